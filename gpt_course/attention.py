"""Scaled dot-product attention, the causal mask, and multi-head self-attention with a key/value cache."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .positional import RotaryEmbedding

if TYPE_CHECKING:
    from .model import GPTConfig


def causal_mask(T: int, T_k: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean (T, T_k) mask, True where a query may attend: key position <= query position. With T_k > T the
    queries are the last T positions (as when a key/value cache holds the past)."""
    T_k = T if T_k is None else T_k
    return torch.ones(T, T_k, dtype=torch.bool, device=device).tril(diagonal=T_k - T)


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                                 dropout_p: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d_k) v for inputs (..., T, d); returns (output, weights). `mask` is boolean (True = may
    attend) or float (added to the scores), broadcastable to (..., T_q, T_k)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    weights = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights


def check_config(config: GPTConfig, what: str) -> None:
    """A learner who passes sizes where a config belongs gets told how to build one."""
    if not hasattr(config, "n_embd"):
        raise TypeError(f"{what} is built from a GPTConfig, got {config!r}: "
                        f"e.g. {what}(GPTConfig(n_embd=64, n_head=4, causal=True))")


class MultiHeadAttention(nn.Module):
    """Self-attention with `config.n_head` heads on (B, T, C), as in GPT-2 (one fused q, k, v projection). With
    `config.causal` a position sees only itself and the past. Positions come from the model: `rope` rotates q and
    k, `alibi` is added to the scores. `store_weights = True` keeps the last attention weights in `.weights`."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        check_config(config, "MultiHeadAttention")
        self.n_head, self.n_embd, self.causal, self.dropout = config.n_head, config.n_embd, config.causal, config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v for all heads at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)  # W_O
        self.resid_dropout = nn.Dropout(config.dropout)
        self.store_weights, self.weights = False, None

    def forward(self, x: torch.Tensor, rope: RotaryEmbedding | None = None, alibi: torch.Tensor | None = None,
                cache: list | None = None) -> torch.Tensor:
        """x: (B, T, C). `cache` is this layer's [k, v] (or [None, None]); it is extended in place."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # (B, T, C) each
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        past = 0 if cache is None or cache[0] is None else cache[0].shape[2]
        if rope is not None:  # RoPE: rotate q and k by their positions past, ..., past + T - 1
            q, k = rope(q, offset=past), rope(k, offset=past)
        if cache is not None:  # keys and values of the past tokens, then of these: (B, nh, T_k, hs)
            if past:
                k, v = torch.cat((cache[0], k), dim=2), torch.cat((cache[1], v), dim=2)
            cache[0], cache[1] = k, v
        T_k = k.shape[2]
        mask = None
        if alibi is not None:  # ALiBi: a distance penalty (nh, T, T_k) added to the scores
            mask = alibi.to(q.dtype)
            if self.causal:
                mask = mask.masked_fill(~causal_mask(T, T_k, device=x.device), float("-inf"))
        elif self.causal and T > 1:
            mask = causal_mask(T, T_k, device=x.device)  # (T, T_k)
        dropout_p = self.dropout if self.training else 0.0
        if self.store_weights:
            y, self.weights = scaled_dot_product_attention(q, k, v, mask, dropout_p)  # weights (B, nh, T, T_k)
        elif mask is not None and mask.dtype == torch.bool and T == T_k:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)  # fused kernel
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again: (B, T, C)
        return self.resid_dropout(self.c_proj(y))
