"""Checks for notebook 07 (LayerNorm and residuals): LayerNorm by its formula, a pre-LN block, counting parameters."""
from __future__ import annotations

import torch

from . import Mistake, call, exercise, expect_close
from ..layers import Block, LayerNorm
from ..model import GPT, GPTConfig


def _same(got, value, atol: float = 1e-5) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == value.shape
            and torch.allclose(got.double(), value.double(), atol=atol, rtol=1e-4))


# --- LayerNorm from the formula -----------------------------------------------------------------------

def _ln_variants(x, gamma, beta, eps) -> dict[str, torch.Tensor]:
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    normed = (x - mu) / torch.sqrt(var + eps)
    return {
        "you used the unbiased variance (x.var() divides by n - 1); LayerNorm divides by n: "
        "x.var(-1, unbiased=False) or ((x - mu) ** 2).mean(-1)":
            (x - mu) / torch.sqrt(x.var(-1, keepdim=True) + eps) * gamma + beta,
        "eps goes inside the square root, next to the variance: (x - mu) / sqrt(var + eps)":
            (x - mu) / (torch.sqrt(var) + eps) * gamma + beta,
        "you forgot eps: (x - mu) / sqrt(var + eps) stays finite even for a constant token":
            (x - mu) / torch.sqrt(var) * gamma + beta,
        "γ and β are missing: after normalising, multiply by gamma and add beta": normed,
        "the statistics are taken over the wrong axis: each token is normalised over its own features, "
        "the last dimension (dim=-1, keepdim=True)":
            (x - x.mean(0, keepdim=True)) / torch.sqrt(x.var(0, keepdim=True, unbiased=False) + eps) * gamma + beta,
        "the statistics are taken over the whole tensor: each token has its own mean and variance, "
        "x.mean(-1, keepdim=True)":
            (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + eps) * gamma + beta,
        "you divided by the variance; divide by the standard deviation sqrt(var + eps)":
            (x - mu) / (var + eps) * gamma + beta,
    }


@exercise("07.layer_norm")
def check_layer_norm(fn) -> None:
    g = torch.Generator().manual_seed(7)
    for shape in ((4, 8), (2, 3, 16), (5, 6)):
        n = shape[-1]
        x = torch.randn(*shape, generator=g) * (torch.rand(*shape[:-1], 1, generator=g) * 4 + 0.5) + 3
        x[..., 0, :] = 0.25 + 1e-3 * torch.randn(*x[..., 0, :].shape, generator=g)  # a nearly constant token
        gamma = 1 + 0.5 * torch.randn(n, generator=g)
        beta = 0.5 * torch.randn(n, generator=g)
        got = call(fn, x.clone(), gamma.clone(), beta.clone(), eps=1e-5)
        expected = torch.nn.functional.layer_norm(x, (n,), gamma, beta, eps=1e-5)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and not _same(got, expected):
            for message, value in _ln_variants(x, gamma, beta, 1e-5).items():
                if _same(got, value, atol=1e-4):
                    raise Mistake(message)
        expect_close(got, expected, f"layer_norm on input of shape {shape}", atol=1e-4, rtol=1e-4)


# --- a pre-LN block from its modules ------------------------------------------------------------------

def _random_block(n_embd: int, n_head: int, seed: int) -> Block:
    torch.manual_seed(seed)
    block = Block(GPTConfig(n_embd=n_embd, n_head=n_head, norm="pre"))
    with torch.no_grad():  # LayerNorms away from (1, 0), so that forgetting one shows
        for ln in (block.ln_1, block.ln_2):
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.normal_(0, 0.3)
    return block.eval()


@exercise("07.pre_ln_block")
def check_pre_ln_block(fn) -> None:
    for seed, (B, T, C, H) in enumerate([(2, 5, 16, 2), (1, 7, 32, 4), (3, 1, 8, 1)]):
        block = _random_block(C, H, seed)
        x = torch.randn(B, T, C, generator=torch.Generator().manual_seed(seed)) * 2
        with torch.no_grad():
            got = call(fn, x.clone(), block.ln_1, block.attn, block.ln_2, block.mlp)
            expected = block(x)
            a = block.attn(x)
            wrong = {
                "this is the post-LN order, ln(x + attn(x)); pre-LN normalises the input of each sub-layer "
                "and adds the result to the un-normalised stream: x = x + attn(ln_1(x))":
                    block.ln_2(block.ln_1(x + a) + block.mlp(block.ln_1(x + a))),
                "the skip connection must carry x itself, not ln_1(x): x = x + attn(ln_1(x))":
                    (lambda h: h + block.mlp(block.ln_2(h)))(block.ln_1(x) + block.attn(block.ln_1(x))),
                "the MLP must read the stream after the attention was added (sequential, not parallel): "
                "x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x))":
                    x + block.attn(block.ln_1(x)) + block.mlp(block.ln_2(x)),
                "the second residual is missing: x = x + mlp(ln_2(x))":
                    block.mlp(block.ln_2(x + block.attn(block.ln_1(x)))),
                "the first residual is missing: x = x + attn(ln_1(x))":
                    (lambda h: h + block.mlp(block.ln_2(h)))(block.attn(block.ln_1(x))),
                "ln_2 is missing before the MLP: x = x + mlp(ln_2(x))":
                    (lambda h: h + block.mlp(h))(x + block.attn(block.ln_1(x))),
            }
        if not _same(got, expected):
            for message, value in wrong.items():
                if _same(got, value):
                    raise Mistake(message)
        expect_close(got, expected, f"pre-LN block on input ({B}, {T}, {C})", atol=1e-5)


# --- how many LayerNorm parameters --------------------------------------------------------------------

@exercise("07.layernorm_params")
def check_layernorm_params(fn) -> None:
    configs = [
        GPTConfig.gpt2("small"),
        GPTConfig.gpt1(),
        GPTConfig(vocab_size=100, block_size=16, n_layer=3, n_head=2, n_embd=32, bias=False),
        GPTConfig(vocab_size=100, block_size=16, n_layer=5, n_head=4, n_embd=48, norm="post", bias=False),
    ]
    for cfg in configs:
        with torch.device("meta"):
            model = GPT(cfg)
        expected = sum(p.numel() for m in model.modules() if isinstance(m, LayerNorm) for p in m.parameters())
        got = call(fn, cfg)
        if not isinstance(got, int) or isinstance(got, bool):
            if isinstance(got, float) and got.is_integer():
                got = int(got)
            else:
                raise Mistake(f"return an int, got {type(got).__name__}")
        if got == expected:
            continue
        per_ln = cfg.n_embd * (2 if cfg.bias else 1)
        n_ln = 2 * cfg.n_layer + (cfg.norm == "pre")
        where = f"for {cfg.norm}-LN, n_layer={cfg.n_layer}, n_embd={cfg.n_embd}, bias={cfg.bias}"
        if cfg.norm == "pre" and got == 2 * cfg.n_layer * per_ln:
            raise Mistake(f"{where}: a pre-LN GPT also has the final LayerNorm ln_f")
        if cfg.norm == "post" and got == (n_ln + 1) * per_ln:
            raise Mistake(f"{where}: a post-LN GPT (GPT-1) has no final ln_f; its blocks end in a LayerNorm")
        if not cfg.bias and got == n_ln * 2 * cfg.n_embd:
            raise Mistake(f"{where}: with bias=False a LayerNorm has only γ (n_embd parameters), no β")
        raise Mistake(f"{where}: expected {expected:,}, got {got:,}. Count the LayerNorms (two per block, "
                      f"plus ln_f in pre-LN) and their parameters (γ, and β when bias=True)")
