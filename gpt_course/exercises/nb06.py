"""Checks for notebook 06 (positional encoding): the sinusoidal formula, one RoPE rotation, the ALiBi bias."""
from __future__ import annotations

import torch

from . import Mistake, call, exercise, expect_close
from ..positional import RotaryEmbedding, alibi_bias as _alibi_bias, sinusoidal_encoding as _sinusoidal


def _same(got, value) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == value.shape
            and torch.allclose(got.double(), value.double(), atol=1e-5, rtol=1e-5))


# --- sinusoidal encoding ---------------------------------------------------------------------------

def _sinusoidal_variants(max_len: int, d: int) -> dict[str, torch.Tensor]:
    """Typical wrong versions of the formula, each with the message that explains it."""
    pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    two_i = torch.arange(0, d, 2, dtype=torch.float64)
    i = torch.arange(d // 2, dtype=torch.float64)
    right = pos / 10000 ** (two_i / d)
    out = {}

    def interleave(a, b):
        pe = torch.empty(max_len, d, dtype=torch.float64)
        pe[:, 0::2], pe[:, 1::2] = a, b
        return pe

    out["the exponent uses i/d; the formula has 2i/d (i counts pairs, 2i is the even dimension index): "
        "use torch.arange(0, d, 2) / d"] = interleave(torch.sin(pos / 10000 ** (i / d)), torch.cos(pos / 10000 ** (i / d)))
    out["sin and cos are swapped: even dimensions 2i hold the sine, odd dimensions 2i+1 the cosine"] = \
        interleave(torch.cos(right), torch.sin(right))
    out["you put all sines in the first half and all cosines in the second: the formula interleaves them, "
        "pe[:, 0::2] = sin, pe[:, 1::2] = cos"] = torch.cat((torch.sin(right), torch.cos(right)), dim=1)
    out["the angle is pos * 10000^(2i/d); it should be divided: pos / 10000^(2i/d)"] = \
        interleave(torch.sin(pos * 10000 ** (two_i / d)), torch.cos(pos * 10000 ** (two_i / d)))
    return out


@exercise("06.sinusoidal_encoding")
def check_sinusoidal(fn) -> None:
    for max_len, d in ((10, 4), (50, 16), (7, 64)):
        got = call(fn, max_len, d)
        expected = _sinusoidal(max_len, d)
        if isinstance(got, torch.Tensor) and got.shape == (d, max_len) and max_len != d:
            raise Mistake(f"shape {tuple(got.shape)} is transposed: rows are positions, columns dimensions, "
                          f"so return (max_len, d) = ({max_len}, {d})")
        for message, value in _sinusoidal_variants(max_len, d).items():
            if _same(got, value):
                raise Mistake(message)
        expect_close(got, expected, f"sinusoidal_encoding({max_len}, {d})", atol=1e-5)


# --- RoPE: one vector --------------------------------------------------------------------------------

def _theta(d: int, base: float) -> torch.Tensor:
    return 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)


def _rotate_pairs(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    out = torch.empty_like(x)
    out[0::2] = x[0::2] * c - x[1::2] * s
    out[1::2] = x[0::2] * s + x[1::2] * c
    return out


def _rope_variants(x: torch.Tensor, m: int, base: float) -> dict[str, torch.Tensor]:
    d, half = x.shape[-1], x.shape[-1] // 2
    th = _theta(d, base)
    c, s = torch.cos(m * th).to(x.dtype), torch.sin(m * th).to(x.dtype)
    return {
        "you rotated clockwise (by -m·θ_i): the first coordinate is x_2i·cos − x_2i+1·sin, "
        "the second x_2i·sin + x_2i+1·cos": _rotate_pairs(x, -m * th),
        "you paired dimension i with i + d/2 (Llama's rotate_half); here the pairs are neighbours "
        "(2i, 2i+1): use x[0::2] and x[1::2]": torch.cat((x[:half] * c - x[half:] * s, x[:half] * s + x[half:] * c)),
        "θ_i uses i/d; it is base^(−2i/d), the sinusoidal frequencies: torch.arange(0, d, 2) / d":
            _rotate_pairs(x, m / base ** (torch.arange(half, dtype=torch.float64) / d)),
        "the angle should grow with the position: rotate pair i by m·θ_i, not by θ_i": _rotate_pairs(x, th),
    }


@exercise("06.rope_rotate")
def check_rope_rotate(fn) -> None:
    g = torch.Generator().manual_seed(6)
    cases = [(8, 5, 10000.0), (2, 1, 10000.0), (16, 37, 10000.0), (8, 0, 10000.0), (6, 3, 100.0)]
    for d, m, base in cases:
        x = torch.randn(d, generator=g)
        got = call(fn, x.clone(), m, base=base)
        expected = RotaryEmbedding(d, m + 1, base=base)(x.unsqueeze(0), offset=m)[0]
        if m == 0 and isinstance(got, torch.Tensor) and got.shape == x.shape and not _same(got, x):
            raise Mistake("at position m = 0 every angle is 0, so the vector must come back unchanged")
        if base != 10000.0 and _same(got, _rotate_pairs(x, m * _theta(d, 10000.0))):
            raise Mistake("use the `base` argument in θ_i = base^(−2i/d) instead of the fixed 10000")
        for message, value in _rope_variants(x, m, base).items():
            if m != 0 and _same(got, value) and not _same(value, expected):
                raise Mistake(message)
        expect_close(got, expected, f"rope_rotate(x of size {d}, m={m}, base={base:g})", atol=1e-5)


# --- ALiBi bias --------------------------------------------------------------------------------------

@exercise("06.alibi_bias")
def check_alibi(fn) -> None:
    for n_head, T in ((8, 5), (1, 3), (4, 12), (16, 7), (2, 1)):
        got = call(fn, n_head, T)
        expected = _alibi_bias(n_head, T)
        if not isinstance(got, torch.Tensor):
            raise Mistake(f"expected a torch.Tensor, got {type(got).__name__}")
        if got.shape != expected.shape:
            raise Mistake(f"alibi({n_head}, {T}) should have shape (n_head, T, T) = {tuple(expected.shape)}, "
                          f"got {tuple(got.shape)}")
        past = torch.ones(T, T, dtype=torch.bool).tril()
        got_past, exp_past = got.double()[:, past], expected.double()[:, past]
        if torch.isinf(got_past).any() or torch.isnan(got_past).any():
            raise Mistake("entries on and below the diagonal (j <= i) must be finite: only the future is masked")
        if T > 1 and torch.allclose(got_past, -exp_past, atol=1e-6):
            raise Mistake("the sign is flipped: ALiBi is a penalty, −m_h·(i − j), so far keys get lower scores")
        if T > 1 and n_head > 1 and torch.allclose(got_past, exp_past.flip(0), atol=1e-6):
            raise Mistake("the slopes are in reverse order: head 1 has the steepest slope 2^(−8/n), "
                          "head n the flattest 2^(−8)")
        distance = (torch.arange(T).view(-1, 1) - torch.arange(T).view(1, -1)).double()
        one_slope = -(2.0 ** (-8 / n_head)) * distance.expand(n_head, T, T)
        if T > 1 and n_head > 1 and torch.allclose(got_past, one_slope[:, past], atol=1e-6):
            raise Mistake("every head has the same slope: head h uses m_h = 2^(−8h/n_head), h = 1..n_head")
        if not torch.allclose(got_past, exp_past, atol=1e-5):
            diff = (got_past - exp_past).abs().max().item()
            raise Mistake(f"alibi({n_head}, {T}) differs from −m_h·(i − j) on or below the diagonal "
                          f"(largest difference {diff:.3g}); slopes are 2^(−8h/n_head) for h = 1..n_head")
