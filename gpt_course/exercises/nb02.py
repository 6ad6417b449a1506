"""Checks for notebook 02 (language models): bigram probabilities from counts, perplexity, add-k smoothing."""
from __future__ import annotations

import math

import torch

from . import Mistake, call, exercise, expect_close


def _ids(V: int, n: int, seed: int) -> torch.Tensor:
    """Random ids in which every symbol occurs as a context and as a successor (no empty row or column)."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.randperm(V, generator=g), torch.randperm(V, generator=g),
                      torch.randint(0, V, (n,), generator=g)])


def _bigram_counts(ids: torch.Tensor, V: int) -> torch.Tensor:
    counts = torch.zeros(V, V, dtype=torch.float64)
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1, dtype=torch.float64), accumulate=True)
    return counts


def _as_float(x, what: str) -> float:
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise Mistake(f"{what}: expected one number, got a tensor of shape {tuple(x.shape)}")
        return float(x.item())
    try:
        return float(x)
    except (TypeError, ValueError):
        raise Mistake(f"{what}: expected a number, got {type(x).__name__}") from None


@exercise("02.bigram_probs")
def check_bigram_probs(fn) -> None:
    for seed, (V, n) in enumerate([(3, 20), (5, 200), (8, 60)]):
        ids = _ids(V, n, seed)
        got = call(fn, ids.clone(), V)
        counts = _bigram_counts(ids, V)
        expected = counts / counts.sum(dim=1, keepdim=True)
        what = f"bigram_probs(ids of length {len(ids)}, V={V})"
        if not isinstance(got, torch.Tensor):
            raise Mistake(f"{what}: expected a torch.Tensor, got {type(got).__name__}")
        if got.shape == expected.shape:
            got = got.double()
            if torch.allclose(got, counts):
                raise Mistake("these are the counts: divide each row by its sum to get P(next | previous)")
            if torch.allclose(got, counts / counts.sum(dim=0, keepdim=True)):
                raise Mistake("you normalised the columns: row a holds P(· | a), so divide by the row sums "
                              "(sum(dim=1, keepdim=True)) and each row sums to 1")
            if torch.allclose(got, expected.T):
                raise Mistake("the table is transposed: the row is the previous symbol, the column the next one")
            if torch.allclose(got, counts / counts.sum()):
                raise Mistake("you divided by the total number of pairs, which gives the joint P(a, b); "
                              "the conditional P(b | a) divides by the count of the row a")
        expect_close(got, expected, what)


@exercise("02.perplexity")
def check_perplexity(fn) -> None:
    g = torch.Generator().manual_seed(0)
    cases = [torch.full((4,), 0.25), torch.tensor([0.5, 0.1, 0.9, 0.02]),
             torch.rand(50, generator=g, dtype=torch.float64).clamp_min(1e-3)]
    for p in cases:
        got = _as_float(call(fn, p.clone()), f"perplexity_from_probs of {len(p)} probabilities")
        expected = math.exp(-torch.log(p.double()).mean().item())
        if math.isclose(got, expected, rel_tol=1e-5):
            continue
        if math.isclose(got, 1 / p.double().mean().item(), rel_tol=1e-5):
            raise Mistake("you used the arithmetic mean of the probabilities; perplexity is exp(-mean(log p)), "
                          "the geometric mean of 1/p")
        if math.isclose(got, math.exp(torch.log(p.double()).mean().item()), rel_tol=1e-5):
            raise Mistake("a minus sign is missing: perplexity is exp(-mean(log p)) and is at least 1")
        if math.isclose(got, -torch.log(p.double()).mean().item(), rel_tol=1e-5):
            raise Mistake("this is the cross-entropy in nats; perplexity is its exponential")
        if math.isclose(got, -torch.log2(p.double()).mean().item(), rel_tol=1e-5):
            raise Mistake("this is the cross-entropy in bits; perplexity is 2 ** bits (or exp of nats)")
        if math.isclose(got, math.exp(-torch.log(p.double()).sum().item()), rel_tol=1e-5):
            raise Mistake("you summed the log-probabilities; take their mean (divide by the number of tokens)")
        raise Mistake(f"for p = {[round(x, 3) for x in p.tolist()[:4]]}{'...' if len(p) > 4 else ''} the "
                      f"perplexity is {expected:.4f}, you returned {got:.4f}")
    uniform = _as_float(call(fn, torch.full((10,), 1 / 7)), "perplexity_from_probs")
    if not math.isclose(uniform, 7.0, rel_tol=1e-5):
        raise Mistake(f"a model that gives every token probability 1/7 has perplexity 7, you returned {uniform:.4f}")


@exercise("02.add_k")
def check_add_k(fn) -> None:
    for seed, (V, n, k) in enumerate([(3, 10, 1.0), (6, 40, 0.5), (10, 30, 0.01)]):
        g = torch.Generator().manual_seed(seed)
        ids = torch.randint(0, V - 1, (n,), generator=g)  # the last symbol never occurs: an empty row
        counts = _bigram_counts(ids, V)
        got = call(fn, counts.clone(), k)
        expected = (counts + k) / (counts.sum(dim=1, keepdim=True) + k * V)
        what = f"add_k(counts of shape {tuple(counts.shape)}, k={k})"
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            got = got.double()
            if torch.allclose(got, (counts + k) / (counts.sum(dim=1, keepdim=True) + k), atol=1e-6):
                raise Mistake("the rows do not sum to 1: k is added to each of the V cells of a row, so the "
                              "denominator is the row count + k * V, not + k")
            if torch.allclose(got, (counts + k) / (counts.sum(dim=0, keepdim=True) + k * V), atol=1e-6):
                raise Mistake("you normalised the columns; divide by the row sums (sum(dim=1, keepdim=True))")
            if torch.allclose(got, (counts + k) / (counts + k).sum(), atol=1e-6):
                raise Mistake("you normalised by the grand total; each row (context) must sum to 1 on its own")
            if not torch.allclose(got[-1], torch.full((V,), 1 / V, dtype=torch.float64), atol=1e-6):
                raise Mistake("a context never seen (an all-zero row) must get the uniform distribution 1/V")
        expect_close(got, expected, what, atol=1e-6)
