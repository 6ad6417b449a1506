"""Checks for notebook 13 (evaluation: perplexity, bits per byte, expected calibration error)."""
import math

import numpy as np
import torch

from . import Mistake, call, exercise


def _number(got, what: str) -> float:
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    elif isinstance(got, (np.ndarray, np.generic)) and np.size(got) == 1:
        got = got.item()
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        raise Mistake(f"{what}: return a number (a float), got {type(got).__name__}")
    return float(got)


@exercise("13.perplexity")
def perplexity(fn):
    g = torch.Generator().manual_seed(13)
    cases = [torch.tensor([math.log(2.0)] * 4), torch.tensor([0.5, 1.0, 2.0, 4.0]),
             torch.rand(100, generator=g) * 6, torch.rand(7, generator=g) * 3 + 0.1]
    for nll in cases:
        expected = math.exp(nll.double().mean().item())
        got = _number(call(fn, nll.clone()), f"perplexity of {nll.numel()} NLLs")
        if math.isclose(got, expected, rel_tol=1e-5):
            continue
        if math.isclose(got, math.exp(nll.double().sum().item()), rel_tol=1e-5):
            raise Mistake("that is exp of the SUM of the NLLs (it grows with the length of the text); "
                          "perplexity is exp of the MEAN NLL per token")
        if math.isclose(got, nll.double().exp().mean().item(), rel_tol=1e-5):
            raise Mistake("that is the mean of exp(NLL); perplexity is exp of the mean NLL "
                          "(the inverse of the geometric mean probability)")
        if math.isclose(got, 2 ** nll.double().mean().item(), rel_tol=1e-5):
            raise Mistake("the NLLs are in nats (natural log): use exp, not 2 ** (that is for NLLs in bits)")
        if math.isclose(got, nll.double().mean().item(), rel_tol=1e-5):
            raise Mistake("that is the mean NLL (the cross-entropy); perplexity is its exponential")
        raise Mistake(f"for NLLs {[round(v, 3) for v in nll[:5].tolist()]}{'...' if nll.numel() > 5 else ''} "
                      f"expected perplexity {expected:.4f}, got {got:.4f}")


@exercise("13.bits_per_byte")
def bits_per_byte(fn):
    cases = [(math.log(2.0), 100, 100), (3.0, 250, 1000), (4.7, 1200, 3600), (2.2, 10, 13)]
    for mean_nll, n_tokens, n_bytes in cases:
        expected = mean_nll * n_tokens / math.log(2) / n_bytes
        got = _number(call(fn, mean_nll, n_tokens, n_bytes), f"bits per byte for {(mean_nll, n_tokens, n_bytes)}")
        if math.isclose(got, expected, rel_tol=1e-6):
            continue
        if math.isclose(got, mean_nll * n_tokens / n_bytes, rel_tol=1e-6):
            raise Mistake("the NLL is in nats: divide by ln 2 (math.log(2)) to get bits")
        if math.isclose(got, mean_nll * n_tokens * math.log(2) / n_bytes, rel_tol=1e-6):
            raise Mistake("bits = nats / ln 2, not nats · ln 2")
        if math.isclose(got, mean_nll / math.log(2), rel_tol=1e-6):
            raise Mistake("that is bits per TOKEN; spread the total bits (mean × n_tokens) over the n_bytes bytes")
        if math.isclose(got, mean_nll / math.log(2) / n_bytes, rel_tol=1e-6):
            raise Mistake("multiply the mean NLL by n_tokens first: the total NLL of the text is what the bytes share")
        if math.isclose(got, mean_nll * n_bytes / math.log(2) / n_tokens, rel_tol=1e-6):
            raise Mistake("tokens and bytes are swapped: total bits = mean_nll · n_tokens / ln 2, divided by n_bytes")
        raise Mistake(f"for mean_nll={mean_nll}, n_tokens={n_tokens}, n_bytes={n_bytes} expected {expected:.5f}, "
                      f"got {got:.5f}")


def _bins(seed: int, n: int, n_bins: int):
    from ..evaluate import calibration_bins

    rng = np.random.default_rng(seed)
    conf = rng.beta(2, 3, n)  # mostly low confidences: the top bins may stay empty
    correct = rng.random(n) < conf ** 1.3  # somewhat overconfident
    return calibration_bins(conf, correct, n_bins), conf, correct


@exercise("13.ece")
def ece(fn):
    from ..evaluate import expected_calibration_error

    for seed, n, n_bins in ((0, 50, 5), (1, 500, 10), (2, 30, 15), (3, 2000, 20)):
        (confidence, accuracy, count), conf, correct = _bins(seed, n, n_bins)
        expected = expected_calibration_error(conf, correct, n_bins)
        got = call(fn, confidence.copy(), accuracy.copy(), count.copy())
        got = _number(got, f"ECE with {n_bins} bins")
        if math.isnan(got):
            raise Mistake("the result is NaN: empty bins (count 0) hold NaN confidence and accuracy; leave them out")
        if math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-12):
            continue
        full = count > 0
        gaps = accuracy[full] - confidence[full]
        if math.isclose(got, float(np.mean(np.abs(gaps))), rel_tol=1e-6):
            raise Mistake("every bin got the same weight; weight each bin by its share of the predictions, "
                          "count / count.sum()")
        if math.isclose(got, abs(float(np.sum(count[full] / count.sum() * gaps))), rel_tol=1e-6):
            raise Mistake("take the absolute gap |accuracy - confidence| in each bin before averaging: "
                          "over- and under-confidence must not cancel")
        raise Mistake(f"with {n_bins} bins ({int(full.sum())} not empty) expected ECE {expected:.5f}, got {got:.5f}")
