"""Scaled dot-product attention, the causal mask, and multi-head self-attention with a key/value cache."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .positional import RotaryEmbedding, alibi_bias


def causal_mask(T: int, T_k: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean (T, T_k) mask, True where a query may attend: key position <= query position.

    With T_k > T the queries are the last T positions (as when a key/value cache holds the past).
    """
    T_k = T if T_k is None else T_k
    return torch.ones(T, T_k, dtype=torch.bool, device=device).tril(diagonal=T_k - T)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d_k) v for inputs (..., T, d). Returns (output, attention weights).

    `mask` is boolean (True = may attend) or float (added to the scores), broadcastable to (..., T_q, T_k).
    """
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    weights = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """Self-attention with `n_head` heads on (B, T, C) tensors, as in GPT-2 (one fused q,k,v projection).

    `pos_encoding` "rope" rotates q and k; "alibi" adds a distance penalty to the scores; other values leave
    positions to the embeddings. Set `store_weights = True` to keep the last attention weights in `.weights`.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        causal: bool = True,
        bias: bool = True,
        dropout: float = 0.0,
        pos_encoding: str = "learned",
        max_len: int = 1024,
    ):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(
                f"n_embd={n_embd} is not divisible by n_head={n_head}: each head gets n_embd // n_head "
                f"dimensions; choose n_head among {[h for h in range(1, n_embd + 1) if n_embd % h == 0][:12]}"
            )
        self.n_head, self.n_embd, self.head_dim = n_head, n_embd, n_embd // n_head
        self.causal, self.dropout, self.pos_encoding = causal, dropout, pos_encoding
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)  # q, k, v for all heads at once
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)  # W_O
        self.resid_dropout = nn.Dropout(dropout)
        self.rotary = RotaryEmbedding(self.head_dim, max_len) if pos_encoding == "rope" else None
        self.store_weights = False
        self.weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        """x: (B, T, C). `cache` is this layer's [k, v] (or [None, None]); it is extended in place."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        past = 0 if cache is None or cache[0] is None else cache[0].shape[2]
        if self.rotary is not None:
            q, k = self.rotary(q, offset=past), self.rotary(k, offset=past)
        if cache is not None:
            if past:
                k, v = torch.cat((cache[0], k), dim=2), torch.cat((cache[1], v), dim=2)  # (B, nh, past+T, hs)
            cache[0], cache[1] = k, v
        T_k = k.shape[2]
        mask = None
        if self.pos_encoding == "alibi":
            mask = alibi_bias(self.n_head, T, T_k).to(device=x.device, dtype=q.dtype)  # (nh, T, T_k)
            if self.causal:
                mask = mask.masked_fill(~causal_mask(T, T_k, device=x.device), float("-inf"))
        elif self.causal and T > 1:
            mask = causal_mask(T, T_k, device=x.device)
        dropout_p = self.dropout if self.training else 0.0
        if self.store_weights:
            y, self.weights = scaled_dot_product_attention(q, k, v, mask, dropout_p)
        elif mask is not None and mask.dtype == torch.bool and T == T_k:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)  # fused kernel
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again: (B, T, C)
        return self.resid_dropout(self.c_proj(y))
