"""Checks for notebook 01 (GPT lineage: counting parameters)."""
from . import Mistake, call, exercise


def _numel(module) -> int:
    return sum(p.numel() for p in module.parameters())


@exercise("01.block_parameters")
def block_parameters(fn):
    import torch

    from ..layers import Block
    from ..model import GPTConfig

    for C, heads in ((8, 2), (64, 4), (768, 12), (1600, 25)):
        with torch.device("meta"):
            expected = _numel(Block(GPTConfig(n_embd=C, n_head=heads)))
        got = call(fn, C)
        if not isinstance(got, int) or isinstance(got, bool):
            raise Mistake(f"return an int (a count of parameters), got {type(got).__name__}")
        if got == expected:
            continue
        if got == 12 * C * C:
            raise Mistake(f"for C={C} you gave 12·C² = {got:,}, which leaves out the biases and the two "
                          f"LayerNorms; the exact count is {expected:,}")
        if got == 12 * C * C + 9 * C:
            raise Mistake(f"for C={C} you gave {got:,}: the two LayerNorms (gain and bias, 2·C each) are missing")
        if got == 12 * C * C + 11 * C:
            raise Mistake(f"for C={C} you gave {got:,}: each LayerNorm has a gain AND a bias (2·C), and there are two")
        if got == 12 * C * C + 4 * C:
            raise Mistake(f"for C={C} you gave {got:,}: the linear layers' biases are missing "
                          f"(c_attn has 3·C, c_proj C, c_fc 4·C, the MLP's c_proj C)")
        raise Mistake(f"for C={C} expected {expected:,} parameters, got {got:,}; count c_attn (C→3C), "
                      f"c_proj (C→C), c_fc (C→4C), the MLP's c_proj (4C→C), each with a bias, and two LayerNorms")


@exercise("01.non_embedding")
def non_embedding(fn):
    import torch

    from ..model import GPT, GPTConfig

    configs = [
        GPTConfig.gpt2("medium"),
        GPTConfig.gpt1(),
        GPTConfig.gpt2("xl"),
        GPTConfig(vocab_size=100, block_size=16, n_layer=3, n_head=2, n_embd=32),
    ]
    for cfg in configs:
        with torch.device("meta"):
            model = GPT(cfg)
        expected = model.num_parameters(non_embedding=True)
        got = call(fn, cfg)
        if not isinstance(got, int) or isinstance(got, bool):
            raise Mistake(f"return an int (a count of parameters), got {type(got).__name__}")
        if got == expected:
            continue
        C, L, V, T = cfg.n_embd, cfg.n_layer, cfg.vocab_size, cfg.block_size
        name = f"n_layer={L}, n_embd={C}, norm={cfg.norm!r}"
        if got == 12 * L * C * C:
            raise Mistake(f"for {name} you gave 12·L·C² = {got:,}: that is the usual approximation; the exact "
                          f"count adds the biases and LayerNorms ({expected:,})")
        if got == expected - 2 * C:
            raise Mistake(f"for {name} you left out the final LayerNorm ln_f (2·C); pre-LN models have one")
        if got == expected + 2 * C:
            raise Mistake(f"for {name} (post-LN, like GPT-1) there is no final LayerNorm: each block already "
                          f"ends in one")
        if got == expected + T * C:
            raise Mistake(f"for {name} you kept the position table wpe (T·C = {T * C:,}); it is an embedding too")
        if got == expected + V * C + T * C:
            raise Mistake(f"for {name} you gave the total count; leave out wte (V·C) and wpe (T·C)")
        raise Mistake(f"for {name} expected {expected:,} non-embedding parameters, got {got:,} "
                      f"(L blocks of 12C² + 13C, plus 2C for ln_f in pre-LN models)")
