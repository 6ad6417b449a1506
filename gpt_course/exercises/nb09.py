"""Checks for notebook 09 (the GPT model: forward pass, weight tying, initialisation)."""
import math

import torch

from . import Mistake, call, exercise, expect_close


def _forbid_direct_call(model):
    def forward(*args, **kwargs):
        raise Mistake("build the forward pass from the modules (wte, wpe, h, ln_f, lm_head) instead of calling model(idx)")

    model.forward = forward  # nn.Module.__call__ looks up self.forward, so model(idx) now explains itself
    return model


@exercise("09.gpt_forward")
def gpt_forward(fn):
    from ..model import GPT, GPTConfig

    cases = [
        (GPTConfig(vocab_size=97, block_size=16, n_layer=2, n_head=2, n_embd=32), (2, 7)),
        (GPTConfig(vocab_size=50, block_size=8, n_layer=3, n_head=4, n_embd=16), (3, 8)),
        (GPTConfig(vocab_size=64, block_size=32, n_layer=1, n_head=1, n_embd=8), (1, 1)),
    ]
    for i, (cfg, shape) in enumerate(cases):
        torch.manual_seed(100 + i)
        model = GPT(cfg).eval()
        with torch.no_grad():  # make LayerNorm gains/biases non-trivial so a skipped ln_f shows
            for name, p in model.named_parameters():
                if "ln" in name:
                    p.add_(0.3 * torch.randn_like(p))
        idx = torch.randint(0, cfg.vocab_size, shape)
        with torch.no_grad():
            expected, _ = model(idx)
            t = model.transformer
            tok, pos = t.wte(idx), t.wpe(torch.arange(shape[1]))
            no_pos, no_lnf = tok, tok + pos
            for block in t.h:
                no_pos, no_lnf = block(no_pos), block(no_lnf)
            no_pos = model.lm_head(t.ln_f(no_pos))
            no_lnf = model.lm_head(no_lnf)
        with torch.no_grad():
            got = call(fn, _forbid_direct_call(model), idx)
        if isinstance(got, tuple):
            raise Mistake("return only the logits tensor (B, T, vocab_size), not a tuple")
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if torch.allclose(got, no_lnf, atol=1e-5):
                raise Mistake("the final LayerNorm is missing: apply model.transformer.ln_f before lm_head")
            if torch.allclose(got, no_pos, atol=1e-5):
                raise Mistake("the position embedding is missing: add model.transformer.wpe(torch.arange(T))")
        expect_close(got, expected, f"logits for n_layer={cfg.n_layer}, idx of shape {shape}", atol=1e-5, rtol=1e-4)


@exercise("09.tying_savings")
def tying_savings(fn):
    from ..model import GPT, GPTConfig

    configs = [GPTConfig.gpt2("medium"), GPTConfig(vocab_size=300, block_size=16, n_layer=2, n_head=2, n_embd=24),
               GPTConfig.gpt1()]
    for cfg in configs:
        with torch.device("meta"):
            tied = GPT(cfg).num_parameters()
            untied = GPT(GPTConfig(**{**cfg.to_dict(), "tie_weights": False})).num_parameters()
        expected = untied - tied
        got = call(fn, cfg)
        if not isinstance(got, int) or isinstance(got, bool):
            raise Mistake(f"return an int (a count of parameters), got {type(got).__name__}")
        V, C, T = cfg.vocab_size, cfg.n_embd, cfg.block_size
        if got == expected:
            continue
        if got == V * C + V:
            raise Mistake("lm_head has no bias (nn.Linear(C, V, bias=False)): only its V×C weight matrix is shared")
        if got == (V + T) * C:
            raise Mistake("only the token embedding wte is tied to lm_head; the position table wpe is not")
        if got == 2 * V * C:
            raise Mistake("the untied model has two V×C matrices, the tied one has one: the saving is one matrix")
        raise Mistake(f"for vocab_size={V}, n_embd={C} expected {expected:,} saved parameters, got {got:,}")


@exercise("09.residual_init_std")
def residual_init_std(fn):
    from ..model import GPT, GPTConfig

    for n_layer in (1, 3, 12, 48):
        expected = 0.02 / math.sqrt(2 * n_layer)
        got = call(fn, n_layer)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Mistake(f"return a number (a standard deviation), got {type(got).__name__}")
        if math.isclose(got, expected, rel_tol=1e-6):
            continue
        if math.isclose(got, 0.02 / math.sqrt(n_layer), rel_tol=1e-6):
            raise Mistake("each block adds TWO branches to the residual stream (attention and MLP): "
                          "divide by sqrt(2 * n_layer), not sqrt(n_layer)")
        if math.isclose(got, 0.02 / (2 * n_layer), rel_tol=1e-6) or math.isclose(got, 0.02 / n_layer, rel_tol=1e-6):
            raise Mistake("the scaling is 1/sqrt(number of residual additions), a square root: variances add, "
                          "standard deviations do not")
        if math.isclose(got, 0.02, rel_tol=1e-6):
            raise Mistake("0.02 is the std of the other weights; the residual projections are scaled down with depth")
        raise Mistake(f"for n_layer={n_layer} expected {expected:.6f}, got {got}")
    # and it is what the package does
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=8, n_head=2, n_embd=256))
    measured = torch.cat([p.flatten() for n, p in model.named_parameters() if n.endswith("c_proj.weight")]).std().item()
    if not math.isclose(measured, call(fn, 8), rel_tol=0.02):
        raise Mistake(f"gc.GPT's c_proj weights have std {measured:.5f}, your formula gives {call(fn, 8):.5f}")
