"""LayerNorm, the GELU MLP, and the transformer block in pre-LN and post-LN form."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention

NORMS = ("pre", "post")


class LayerNorm(nn.Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last dimension (biased variance).

    Notebook 07 writes this formula out line by line and checks it against this class. Here it runs as
    PyTorch's one fused kernel (`F.layer_norm`): the formula as five separate tensor operations made a
    training step of the course model about 20 % slower (benchmarks/train_throughput.py). Unlike
    `nn.LayerNorm` of older PyTorch versions, the bias can be switched off (`bias=False`).
    """

    def __init__(self, ndim: int, eps: float = 1e-5, bias: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class MLP(nn.Module):
    """Position-wise feed-forward network: Linear(C, 4C) -> GELU (tanh form, as GPT-2) -> Linear(4C, C)."""

    def __init__(self, n_embd: int, bias: bool = True, dropout: float = 0.0, hidden: int | None = None):
        super().__init__()
        hidden = 4 * n_embd if hidden is None else hidden
        self.c_fc = nn.Linear(n_embd, hidden, bias=bias)
        self.c_proj = nn.Linear(hidden, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    """One transformer block. Pre-LN (GPT-2): x + attn(ln(x)). Post-LN (GPT-1, original Transformer): ln(x + attn(x))."""

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        norm: str = "pre",
        causal: bool = True,
        bias: bool = True,
        dropout: float = 0.0,
        pos_encoding: str = "learned",
        max_len: int = 1024,
    ):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm={norm!r} is unknown: use 'pre' (GPT-2, stable) or 'post' (GPT-1)")
        self.norm = norm
        self.ln_1 = LayerNorm(n_embd, bias=bias)
        self.attn = MultiHeadAttention(n_embd, n_head, causal, bias, dropout, pos_encoding, max_len)
        self.ln_2 = LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, bias, dropout)

    def forward(self, x: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        if self.norm == "pre":
            x = x + self.attn(self.ln_1(x), cache)
            return x + self.mlp(self.ln_2(x))
        x = self.ln_1(x + self.attn(x, cache))
        return self.ln_2(x + self.mlp(x))
