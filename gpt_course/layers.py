"""LayerNorm, the GELU MLP, and the transformer block in pre-LN and post-LN form."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention, check_config
from .positional import RotaryEmbedding

if TYPE_CHECKING:
    from .model import GPTConfig


class LayerNorm(nn.Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last dimension (biased variance). Notebook 07
    checks the formula against this class, which runs PyTorch's fused kernel (the formula as five tensor
    operations made a training step about 20 % slower). The bias can be switched off."""

    def __init__(self, ndim: int, eps: float = 1e-5, bias: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class MLP(nn.Module):
    """Position-wise feed-forward network: Linear(C, 4C) -> GELU (tanh form, as GPT-2) -> Linear(4C, C)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))  # (B, T, 4C) inside


class Block(nn.Module):
    """One transformer block. Pre-LN (GPT-2): x + attn(ln(x)). Post-LN (GPT-1, original Transformer): ln(x + attn(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        check_config(config, "Block")
        self.norm = config.norm
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = MultiHeadAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, rope: RotaryEmbedding | None = None, alibi: torch.Tensor | None = None,
                cache: list | None = None) -> torch.Tensor:
        if self.norm == "pre":
            x = x + self.attn(self.ln_1(x), rope, alibi, cache)
            return x + self.mlp(self.ln_2(x))
        x = self.ln_1(x + self.attn(x, rope, alibi, cache))
        return self.ln_2(x + self.mlp(x))
