"""How good is a language model? Perplexity, bits per byte, copying from context, diversity, calibration, ROUGE.

Notebook 13 uses most of it, notebook 15 scores summaries with ROUGE; the count-based n-gram baseline
is in `gpt_course.ngram`. Every score here is in nats internally and converted at the end: bits = nats / ln 2.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from itertools import combinations
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .utils import evaluating

LN2 = math.log(2.0)

# ----------------------------------------------------------------------------------------------
# Neural models: sliding-window perplexity and bits per byte


def _windows(n_tokens: int, block_size: int, stride: int) -> tuple[int, list[int], list[int]]:
    """Window length, window starts, and the first scored position inside each window.

    Window w feeds tokens[s : s+L] and predicts tokens[s+1 : s+L+1]; it scores only the targets
    the previous window did not reach, so each token after the first is scored exactly once.
    The last window is moved left so that it is full length (more context, one batch shape).
    """
    L = min(block_size, n_tokens - 1)
    starts = list(range(0, n_tokens - 1 - L, stride)) + [n_tokens - 1 - L]
    first = [0] + [prev + L - s for prev, s in zip(starts, starts[1:])]
    return L, starts, first


@torch.no_grad()
def token_nll(
    model: torch.nn.Module, tokens: torch.Tensor, stride: int | None = None, batch_size: int = 8
) -> tuple[float, int]:
    """Total negative log-likelihood (nats) of `tokens[1:]` and how many tokens were scored.

    Sliding windows of `model.config.block_size` tokens move by `stride` (default half a block),
    as in the Hugging Face perplexity guide: every token but the first is scored once (none is
    lost at window borders), with at least `block_size - stride` tokens of left context.
    """
    tokens = torch.as_tensor(tokens)
    if tokens.dim() != 1:
        raise ValueError(f"tokens must be one stream, a 1-D tensor; got shape {tuple(tokens.shape)}")
    block_size = model.config.block_size
    stride = max(1, block_size // 2) if stride is None else stride
    if not 1 <= stride <= block_size:
        raise ValueError(f"stride={stride} must be between 1 and block_size={block_size}: "
                         "a larger stride would leave tokens unscored")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1")
    n = tokens.numel()
    if n < 2:
        return 0.0, 0

    device = next(model.parameters(), tokens).device
    tokens = tokens.long().to(device)
    L, starts, first = _windows(n, block_size, stride)
    offsets = torch.arange(L + 1, device=device)
    total, scored = 0.0, 0
    with evaluating(model):
        for b in range(0, len(starts), batch_size):
            s = torch.tensor(starts[b : b + batch_size], device=device)
            f = torch.tensor(first[b : b + batch_size], device=device)
            chunk = tokens[s[:, None] + offsets]                      # (B, L+1)
            x, y = chunk[:, :-1], chunk[:, 1:]                        # (B, L) each
            out = model(x)
            logits = out[0] if isinstance(out, tuple) else out
            if logits.shape[:2] != x.shape:
                raise ValueError(f"model returned logits of shape {tuple(logits.shape)} for input "
                                 f"{tuple(x.shape)}: perplexity needs logits at every position")
            logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # fp16/bf16 up
            nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")     # (B, L)
            keep = offsets[None, :L] >= f[:, None]                   # (B, L) targets not yet scored
            total += nll[keep].double().sum().item()
            scored += int(keep.sum())
    return total, scored


def perplexity(
    model: torch.nn.Module, tokens: torch.Tensor, stride: int | None = None, batch_size: int = 8
) -> float:
    """exp(mean NLL per token) of a token stream under sliding-window evaluation (see `token_nll`)."""
    total, n = token_nll(model, tokens, stride=stride, batch_size=batch_size)
    if n == 0:
        raise ValueError("perplexity needs at least two tokens: the first one is only context")
    return math.exp(total / n)


def bits_per_byte(model: torch.nn.Module, tokenizer, text: str, stride: int | None = None,
                  batch_size: int = 8) -> float:
    """Bits per UTF-8 byte of `text`: a score that does not depend on the tokenizer.

    The model cannot predict the first token (it has no context), so that token is charged
    ln(tokenizer.vocab_size) nats, its cost under a uniform guess. Every byte is paid for, as in
    `ngram.NGramLM.bits_per_byte`; leaving the first token out would flatter the model slightly.
    """
    n_bytes = len(text.encode("utf-8"))
    ids = tokenizer.encode(text)
    if n_bytes == 0 or not ids:
        raise ValueError("bits_per_byte needs a non-empty text")
    total, _ = token_nll(model, torch.tensor(ids, dtype=torch.long), stride=stride,
                         batch_size=batch_size)
    total += math.log(tokenizer.vocab_size)
    return total / (LN2 * n_bytes)


@torch.no_grad()
def repeat_loss(model: torch.nn.Module, ids: Sequence[int], length: int = 60, n: int = 64) -> tuple[float, float]:
    """Can the model copy from its context? Mean loss (nats per token) on `n` passages of `length` tokens taken
    evenly from `ids`, each read twice in a row: (first reading, second reading).

    On the second reading every next token is in the window, `length` tokens back. A model with *induction
    heads* (attention that finds the earlier occurrence of the current token and passes on the token that
    followed it) predicts it almost perfectly; a model without them scores about the same twice. The first
    token of each reading is not scored (the first has no context, the second would be judged on the seam)."""
    block = model.config.block_size
    if length < 2 or 2 * length - 1 > block:
        raise ValueError(f"length={length}: both readings must fit the window of {block} tokens "
                         f"(2 <= length <= {(block + 1) // 2})")
    if n < 1 or len(ids) < length:
        raise ValueError(f"need n >= 1 passages of {length} tokens; got n={n} and {len(ids)} tokens")
    starts = np.linspace(0, len(ids) - length, n).round().astype(int)
    passages = torch.tensor([list(ids[s:s + length]) for s in starts], dtype=torch.long)
    x = torch.cat([passages, passages], dim=1)  # (n, 2 * length)
    with evaluating(model):
        logits, _ = model(x[:, :-1].to(next(model.parameters()).device))
    nll = F.cross_entropy(logits.transpose(1, 2).float().cpu(), x[:, 1:], reduction="none")  # (n, 2L - 1)
    return nll[:, : length - 1].mean().item(), nll[:, length:].mean().item()


# ----------------------------------------------------------------------------------------------
# Diversity of generated text


def _as_sequences(texts, unit: str) -> list[list]:
    """Strings split into words or characters; token sequences kept as they are."""
    if unit not in ("word", "char"):
        raise ValueError(f"unit={unit!r} must be 'word' or 'char' (token lists are used as given)")
    if isinstance(texts, (str, torch.Tensor)) or (
        isinstance(texts, Sequence) and texts and isinstance(texts[0], (int, np.integer))
    ):
        texts = [texts]
    out = []
    for t in texts:
        if isinstance(t, str):
            out.append(t.split() if unit == "word" else list(t))
        elif isinstance(t, torch.Tensor):
            out.append(t.tolist())
        else:
            out.append(list(t))
    return out


def _ngrams(seq: list, n: int) -> list[tuple]:
    return [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]


def distinct_n(texts, n: int, unit: str = "word") -> float:
    """Distinct-n: unique n-grams / all n-grams, pooled over `texts` (0.0 when there are none).

    `texts` is a string, a list of strings (split into words or characters by `unit`) or a list
    of token-id sequences. 1.0 means no n-gram repeats; a model stuck in a loop scores near 0.
    """
    if n < 1:
        raise ValueError(f"n={n} must be at least 1")
    grams = [g for seq in _as_sequences(texts, unit) for g in _ngrams(seq, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def self_similarity(texts, n: int = 2, unit: str = "word") -> float:
    """Mean Jaccard overlap of the n-gram sets of every pair of texts: 0 all different, 1 all alike.

    A pair whose texts are both too short to hold an n-gram counts as overlap 0.
    """
    sets = [set(_ngrams(seq, n)) for seq in _as_sequences(texts, unit)]
    if len(sets) < 2:
        raise ValueError("self_similarity compares texts pairwise: give at least two")
    overlaps = [len(a & b) / len(a | b) if a | b else 0.0 for a, b in combinations(sets, 2)]
    return float(np.mean(overlaps))


# ----------------------------------------------------------------------------------------------
# Calibration


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
    return np.asarray(x, dtype=np.float64).ravel()


def calibration_bins(probs, correct, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reliability-diagram data: per equal-width confidence bin, mean confidence, accuracy, count.

    `probs` are the model's confidences in [0, 1], `correct` whether each prediction was right.
    Empty bins get NaN confidence and accuracy (matplotlib leaves them out).
    """
    p, c = _numpy(probs), _numpy(correct)
    if p.shape != c.shape:
        raise ValueError(f"probs and correct differ in length: {p.size} vs {c.size}")
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError("probs must be confidences between 0 and 1")
    idx = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(idx, weights=p, minlength=n_bins) / count
        accuracy = np.bincount(idx, weights=c, minlength=n_bins) / count
    return confidence, accuracy, count


def expected_calibration_error(probs, correct, n_bins: int = 10) -> float:
    """ECE: the gap |accuracy - confidence| averaged over bins, weighted by how full each bin is."""
    confidence, accuracy, count = calibration_bins(probs, correct, n_bins)
    full = count > 0
    if not full.any():
        raise ValueError("expected_calibration_error needs at least one prediction")
    return float(np.sum(count[full] * np.abs(accuracy[full] - confidence[full])) / count.sum())


# ----------------------------------------------------------------------------------------------
# ROUGE: word overlap of a generated text with a reference (summaries)


class Score(NamedTuple):
    """Overlap as a fraction of the candidate (precision), of the reference (recall), and their harmonic mean."""

    precision: float
    recall: float
    f1: float


def rouge_tokens(text: str) -> list[str]:
    """Lowercase words: runs of letters and digits (the `rouge-score` package's default, without stemming)."""
    return re.findall(r"[a-z0-9]+", text.lower())


def _score(overlap: int, n_candidate: int, n_reference: int) -> Score:
    p = overlap / n_candidate if n_candidate else 0.0
    r = overlap / n_reference if n_reference else 0.0
    return Score(p, r, 2 * p * r / (p + r) if p + r else 0.0)


def rouge_n(candidate: str, reference: str, n: int = 1) -> Score:
    """ROUGE-N (Lin 2004): overlap of word n-grams, each counted at most as often as it occurs in both."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    c, r = rouge_tokens(candidate), rouge_tokens(reference)
    cg = Counter(tuple(c[i:i + n]) for i in range(len(c) - n + 1))
    rg = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
    return _score(sum((cg & rg).values()), sum(cg.values()), sum(rg.values()))


def lcs_length(a: Sequence, b: Sequence) -> int:
    """Length of the longest common subsequence (in order, gaps allowed), by dynamic programming."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, reference: str) -> Score:
    """ROUGE-L: the longest common subsequence of words, as a fraction of each text."""
    c, r = rouge_tokens(candidate), rouge_tokens(reference)
    return _score(lcs_length(c, r), len(c), len(r))


def mean_rouge(candidates: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean F1 of ROUGE-1, ROUGE-2 and ROUGE-L over pairs."""
    if len(candidates) != len(references) or not candidates:
        raise ValueError(f"need the same non-zero number of candidates and references, got "
                         f"{len(candidates)} and {len(references)}")
    pairs = list(zip(candidates, references))
    return {"rouge1": float(np.mean([rouge_n(c, r, 1).f1 for c, r in pairs])),
            "rouge2": float(np.mean([rouge_n(c, r, 2).f1 for c, r in pairs])),
            "rougeL": float(np.mean([rouge_l(c, r).f1 for c, r in pairs]))}


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a rate hits / n (sound also near 0 and 1, unlike rate ± 2 s.e.)."""
    if n <= 0:
        raise ValueError("n must be at least 1 to give a rate an interval")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
