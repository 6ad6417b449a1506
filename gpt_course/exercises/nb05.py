"""Checks for notebook 05 (multi-head attention): splitting and merging heads, counting parameters."""
from __future__ import annotations

import torch

from . import Mistake, call, exercise, expect_close
from ..attention import MultiHeadAttention
from ..model import GPTConfig

_SHAPES = [(2, 5, 12, 3), (1, 7, 8, 2), (3, 6, 16, 4)]  # (B, T, C, n_head), T != n_head so mix-ups show


def _split(x: torch.Tensor, n_head: int) -> torch.Tensor:
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)  # (B, nh, T, hs)


def _merge(y: torch.Tensor) -> torch.Tensor:
    B, nh, T, hs = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, nh * hs)  # (B, T, C)


@exercise("05.split_heads")
def check_split_heads(fn) -> None:
    for B, T, C, nh in _SHAPES:
        x = torch.randn(B, T, C, generator=torch.Generator().manual_seed(C))
        got = call(fn, x.clone(), nh)
        expected = _split(x, nh)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if torch.equal(got, x.reshape(B, nh, T, C // nh)):
                raise Mistake("you reshaped (B, T, C) straight to (B, nh, T, hs): that cuts the sequence into "
                              "blocks and mixes positions between heads. First view(B, T, nh, hs), which splits "
                              "only the channels, then transpose(1, 2)")
        if isinstance(got, torch.Tensor) and got.shape == (B, T, nh, C // nh) != expected.shape:
            raise Mistake(f"shape {tuple(got.shape)} is (B, T, nh, hs): transpose(1, 2) so that the heads come "
                          f"before time, (B, nh, T, hs), and attention runs over T for each head")
        expect_close(got, expected, f"split_heads of a {(B, T, C)} tensor into {nh} heads", atol=0, rtol=0)
        if not torch.equal(got[:, 0], x[..., : C // nh]):
            raise Mistake("head 0 should hold channels 0 .. hs-1 of every position")


@exercise("05.merge_heads")
def check_merge_heads(fn) -> None:
    for B, T, C, nh in _SHAPES:
        y = torch.randn(B, nh, T, C // nh, generator=torch.Generator().manual_seed(C))
        got = call(fn, y.clone())
        expected = _merge(y)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if torch.equal(got, y.reshape(B, T, C)):
                raise Mistake("you reshaped (B, nh, T, hs) straight to (B, T, C) without moving the head axis: "
                              "positions get mixed up. transpose(1, 2) to (B, T, nh, hs) first, then "
                              ".contiguous().view(B, T, C)")
        expect_close(got, expected, f"merge_heads of a {tuple(y.shape)} tensor", atol=0, rtol=0)
        if not torch.equal(_split(got, nh), y):
            raise Mistake("merge_heads must undo split_heads exactly")


@exercise("05.count_attention_parameters")
def check_count(fn) -> None:
    for C, nh, bias in [(8, 2, True), (12, 3, False), (64, 4, True), (768, 12, True), (768, 1, True)]:
        expected = sum(p.numel() for p in MultiHeadAttention(GPTConfig(n_embd=C, n_head=nh, bias=bias)).parameters())
        got = call(fn, C, nh, bias)
        if not isinstance(got, int) or isinstance(got, bool):
            raise Mistake(f"return an int, got {type(got).__name__}")
        if got == expected:
            continue
        hs, b = C // nh, (4 * C if bias else 0)
        per_head_copies = {nh * 3 * C * C + C * C + b, nh * 4 * C * C + b, nh * 3 * C * C + C * C, nh * 4 * C * C}
        if nh > 1 and got in per_head_copies:
            raise Mistake("each head does NOT get its own C×C matrices: the C×C projections are cut into nh "
                          "slices of C×hs, so the count does not depend on n_head")
        if bias and got == 4 * C * C:
            raise Mistake("you forgot the biases: c_attn has 3C of them and c_proj C")
        if got == 3 * C * C + (3 * C if bias else 0) or got == nh * 3 * C * hs:
            raise Mistake("you forgot the output projection W_O (c_proj: C×C weights plus C biases)")
        raise Mistake(f"for n_embd={C}, n_head={nh}, bias={bias}: expected {expected}, got {got}")
