"""Position information: sinusoidal (Vaswani et al. 2017), learned (GPT-1/2), rotary (RoPE) and ALiBi."""
from __future__ import annotations

import math

import torch
from torch import nn


def _check_even(d_model: int, what: str) -> None:
    if not isinstance(d_model, int) or d_model <= 0:
        raise ValueError(f"{what} needs a positive int dimension, got {d_model!r}")
    if d_model % 2:
        raise ValueError(f"{what} needs an even dimension, got {d_model}: dimensions come in (sin, cos) pairs; "
                         f"use {d_model + 1} or {d_model - 1}")


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)); shape (max_len, d_model)."""
    _check_even(d_model, "sinusoidal_encoding")
    pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (max_len, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (d/2,)
    angle = pos / torch.pow(10000.0, two_i / d_model)  # (max_len, d/2)
    pe = torch.empty(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe.float()


class LearnedPositionalEmbedding(nn.Embedding):
    """One trained vector per position (GPT-1/2's `wpe`), looked up as (T,) -> (T, C): no position past max_len."""


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sinusoidal table added to the token embeddings; a non-persistent buffer, so it can be resized."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:  # (T,) -> (T, C)
        return self.pe[positions]


class RotaryEmbedding(nn.Module):
    """RoPE (Su et al. 2021): rotate each (even, odd) pair of q and k by an angle proportional to position;
    then q_m · k_n depends on m - n only, so attention sees relative offsets."""

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0):
        super().__init__()
        _check_even(head_dim, "RotaryEmbedding")
        inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        angle = torch.arange(max_len, dtype=torch.float64).unsqueeze(1) * inv_freq  # (max_len, hs/2)
        self.register_buffer("cos", angle.cos().float(), persistent=False)
        self.register_buffer("sin", angle.sin().float(), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Rotate x of shape (..., T, head_dim) whose first row sits at position `offset`."""
        T = x.shape[-2]
        if offset + T > self.cos.shape[0]:
            raise ValueError(f"RoPE table covers {self.cos.shape[0]} positions, asked for {offset + T}")
        cos, sin = self.cos[offset : offset + T], self.sin[offset : offset + T]  # (T, hs/2)
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)  # (..., T, hs)


def alibi_slopes(n_head: int) -> torch.Tensor:
    """ALiBi head slopes (Press et al. 2022): a geometric sequence starting at 2^(-8/n)."""
    def power_of_two(n: int) -> list[float]:
        return [(2 ** (-8 / n)) ** (i + 1) for i in range(n)]

    closest = 2 ** math.floor(math.log2(n_head))  # the paper's rule for head counts that are not a power of two
    return torch.tensor(power_of_two(closest) + power_of_two(2 * closest)[0::2][: n_head - closest])


def alibi_bias(n_head: int, T_q: int, T_k: int | None = None) -> torch.Tensor:
    """Additive attention bias -slope_h * (i - j) of shape (n_head, T_q, T_k); queries are the last T_q keys."""
    T_k = T_q if T_k is None else T_k
    q_pos = torch.arange(T_k - T_q, T_k).unsqueeze(1)
    k_pos = torch.arange(T_k).unsqueeze(0)
    distance = (q_pos - k_pos).clamp(min=0).float()  # future keys are masked anyway
    return -alibi_slopes(n_head).view(-1, 1, 1) * distance
