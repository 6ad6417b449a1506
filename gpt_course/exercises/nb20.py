"""Checks for notebook 20 (GPT vs BERT masks, KL divergence between prompts, repeated n-grams)."""
import math

import torch

from . import Mistake, call, exercise


@exercise("20.attention_mask")
def attention_mask(fn):
    from ..attention import causal_mask

    for T in (1, 2, 5, 9):
        for causal in (True, False):
            expected = causal_mask(T) if causal else torch.ones(T, T, dtype=torch.bool)
            got = call(fn, T, causal)
            if not isinstance(got, torch.Tensor):
                raise Mistake(f"return a torch.Tensor, got {type(got).__name__}")
            if got.dtype != torch.bool:
                raise Mistake(f"return a boolean mask (True = may attend), got dtype {got.dtype}")
            if got.shape != (T, T):
                raise Mistake(f"for T={T} the mask must have shape ({T}, {T}), got {tuple(got.shape)}")
            if torch.equal(got, expected):
                continue
            if causal and T > 1 and torch.equal(got, expected.T):
                raise Mistake("the mask is transposed: row i is query i, and it may see keys j <= i (the lower "
                              "triangle, tril), not the future")
            if causal and T > 1 and torch.equal(got, expected & ~torch.eye(T, dtype=torch.bool)):
                raise Mistake("a token may attend to itself: keep the diagonal (key j <= query i)")
            if not causal and torch.equal(got, causal_mask(T)):
                raise Mistake("with causal=False (BERT) every query may attend to every key: all True")
            raise Mistake(f"wrong mask for T={T}, causal={causal}; expected\n{expected.int()}")


def _kl(logp, logq):
    return (logp.exp() * (logp - logq)).sum().item()


@exercise("20.kl_divergence")
def kl_divergence(fn):
    g = torch.Generator().manual_seed(0)
    for V in (2, 5, 50):
        logp = torch.log_softmax(3 * torch.randn(V, generator=g), dim=-1)
        logq = torch.log_softmax(3 * torch.randn(V, generator=g), dim=-1)
        expected = _kl(logp, logq)
        got = call(fn, logp.clone(), logq.clone())
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Mistake(f"return a number (nats), got {type(got).__name__}")
        if math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-6):
            continue
        if math.isclose(got, _kl(logq, logp), rel_tol=1e-4, abs_tol=1e-6):
            raise Mistake("you computed KL(q‖p): KL is not symmetric; weight by p, the first argument: "
                          "Σ p·(log p − log q)")
        if math.isclose(got, (logp - logq).sum().item(), rel_tol=1e-4, abs_tol=1e-6):
            raise Mistake("the log-ratio must be weighted by the probabilities p = logp.exp()")
        raise Mistake(f"for V={V} expected KL = {expected:.5f} nats, got {got:.5f}")
    logp = torch.log_softmax(torch.randn(7, generator=g), dim=-1)
    if abs(call(fn, logp, logp.clone())) > 1e-6:
        raise Mistake("KL(p‖p) must be 0")


def _repeated(tokens, n):
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


@exercise("20.repeated_ngrams")
def repeated_ngrams(fn):
    from ..evaluate import distinct_n

    cases = [([1, 2, 3, 4, 5], 2), ([1, 2, 1, 2, 1, 2, 1, 2], 2), ([7, 7, 7, 7], 1), ([1, 2, 3, 1, 2, 3, 9], 3),
             ([4, 5, 6, 4, 5, 7, 4, 5, 6], 2), ([1, 2], 3)]
    for tokens, n in cases:
        expected = _repeated(tokens, n)
        if len(tokens) >= n:
            assert math.isclose(expected, 1 - distinct_n([tokens], n))
        got = call(fn, list(tokens), n)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Mistake(f"return a fraction (a float between 0 and 1), got {type(got).__name__}")
        if math.isclose(got, expected, abs_tol=1e-9):
            continue
        if math.isclose(got, 1 - expected, abs_tol=1e-9):
            raise Mistake("that is distinct-n (unique / all); the repeated share is 1 − distinct-n")
        raise Mistake(f"for {tokens} and n={n} expected {expected:.4f}, got {got}")
