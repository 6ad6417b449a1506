"""Checks for notebook 04 (self-attention): scaled dot-product attention, the causal mask, one attention row."""
from __future__ import annotations

import math

import torch

from . import Mistake, call, exercise, expect_close
from ..attention import causal_mask as _causal_mask
from ..attention import scaled_dot_product_attention as _sdpa


def _inputs(*shape_q: int, T_k: int | None = None, d_v: int | None = None, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    *batch, T_q, d_k = shape_q
    T_k = T_q if T_k is None else T_k
    d_v = d_k if d_v is None else d_v
    q = torch.randn(*batch, T_q, d_k, generator=g) * 2  # large enough that a missing √d_k shows
    k = torch.randn(*batch, T_k, d_k, generator=g) * 2
    v = torch.randn(*batch, T_k, d_v, generator=g)
    return q, k, v


def _diagnose_attention(got: torch.Tensor, q, k, v) -> None:
    """Name the usual mistake when the output matches a known wrong formula."""
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1)
    wrong = {
        "you did not divide the scores by √d_k: use (q @ kᵀ) / math.sqrt(d_k)": torch.softmax(scores, -1) @ v,
        "you divided the scores by d_k; the scale is √d_k (math.sqrt(d_k))": torch.softmax(scores / d_k, -1) @ v,
        "the softmax runs over the wrong axis: each query's row of scores must sum to 1, so use dim=-1":
            torch.softmax(scores / math.sqrt(d_k), -2) @ v,
        "you forgot the softmax: the weights must be softmax(q kᵀ / √d_k), not the raw scaled scores":
            (scores / math.sqrt(d_k)) @ v,
    }
    for message, value in wrong.items():
        if got.shape == value.shape and torch.allclose(got.double(), value.double(), atol=1e-5, rtol=1e-5):
            raise Mistake(message)


@exercise("04.scaled_dot_product_attention")
def check_attention(fn) -> None:
    cases = [
        ((5, 4), {}),  # one sequence of 5 tokens, d_k = 4
        ((3, 8), dict(T_k=6, d_v=2)),  # queries and keys of different lengths, d_v != d_k
        ((2, 3, 7, 16), {}),  # batch 2, 3 heads
    ]
    for i, (shape, kw) in enumerate(cases):
        q, k, v = _inputs(*shape, **kw, seed=i)
        try:
            got = call(fn, q.clone(), k.clone(), v.clone())
        except Mistake as err:
            if q.dim() > 2:
                raise Mistake(f"{err}. With batched inputs (B, heads, T, d) transpose only the last two axes, "
                              f"k.transpose(-2, -1): k.T reverses all of them") from err
            raise
        if isinstance(got, tuple):
            raise Mistake("return only the output tensor softmax(q kᵀ / √d_k) v, not a tuple")
        expected, _ = _sdpa(q, k, v)
        if isinstance(got, torch.Tensor):
            _diagnose_attention(got, q, k, v)
        expect_close(got, expected, f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}", atol=1e-4)


@exercise("04.causal_mask")
def check_causal_mask(fn) -> None:
    for T in (4, 1, 7):
        got = call(fn, T)
        expected = _causal_mask(T)
        if not isinstance(got, torch.Tensor):
            raise Mistake(f"expected a torch.Tensor, got {type(got).__name__}")
        if got.shape != expected.shape:
            raise Mistake(f"causal_mask({T}) should have shape ({T}, {T}), got {tuple(got.shape)}")
        if got.dtype != torch.bool:
            raise Mistake(f"return a bool tensor (True = may attend), got dtype {got.dtype}: add .bool()")
        if torch.equal(got, expected & ~torch.eye(T, dtype=torch.bool)):
            raise Mistake("the diagonal is missing: a token may attend to itself (j <= i, not j < i)")
        if torch.equal(got, ~expected) or (T > 1 and torch.equal(got, expected.T)):
            raise Mistake("this lets a token see the future (the upper triangle): query i may attend to keys "
                          "j <= i, the lower triangle with the diagonal, torch.tril")
        if not torch.equal(got, expected):
            raise Mistake(f"causal_mask({T}) is wrong: row i must be True for columns 0..i and False after")


@exercise("04.attention_row")
def check_attention_row(fn) -> None:
    for seed, (T, d) in enumerate([(4, 4), (6, 8), (9, 2)]):
        q, K, _ = _inputs(T, d, seed=seed)
        q = q[-1]  # one query vector (d,)
        got = call(fn, q.clone(), K.clone())
        expected = torch.softmax(K @ q / math.sqrt(d), dim=0)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if torch.allclose(got, torch.softmax(K @ q, dim=0), atol=1e-5):
                raise Mistake("you did not divide the scores by √d_k before the softmax")
            if torch.allclose(got, K @ q / math.sqrt(d), atol=1e-5):
                raise Mistake("these are the scaled scores; apply the softmax to turn them into weights")
            if not torch.allclose(got.sum(), torch.tensor(1.0), atol=1e-5):
                raise Mistake(f"the weights sum to {got.sum().item():.4f}; attention weights of one row sum to 1")
        expect_close(got, expected, f"attention row for T={T}, d_k={d}")
