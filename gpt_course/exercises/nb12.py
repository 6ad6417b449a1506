"""Checks for notebook 12 (generation: temperature, top-k, top-p, repetition penalty)."""
import torch

from . import Mistake, call, exercise, expect_close


def _logits(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * 2.5  # continuous values: no ties between logits


def _same(a, b) -> bool:
    """Equal as logits: the same entries are -inf and the finite ones agree."""
    if not isinstance(a, torch.Tensor) or a.shape != b.shape:
        return False
    if not torch.equal(torch.isinf(a), torch.isinf(b)):
        return False
    finite = torch.isfinite(b)
    return bool(torch.allclose(a[finite].double(), b[finite].double(), atol=1e-5, rtol=1e-5))


def _expect_logits(got, expected, what: str) -> None:
    if not isinstance(got, torch.Tensor):
        raise Mistake(f"{what}: expected a torch.Tensor of logits, got {type(got).__name__}")
    if got.shape != expected.shape:
        raise Mistake(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    kept_got, kept_exp = torch.isfinite(got), torch.isfinite(expected)
    if not torch.equal(kept_got, kept_exp):
        n_got, n_exp = int(kept_got.sum()), int(kept_exp.sum())
        raise Mistake(f"{what}: {n_got} logits kept (finite), expected {n_exp}")
    if not _same(got, expected):
        raise Mistake(f"{what}: the kept logits must be returned unchanged")


@exercise("12.temperature")
def temperature(fn):
    cases = [((8,), 0.5), ((3, 50), 2.0), ((2, 4, 17), 0.7), ((5, 30), 1.0), ((6,), 0.1)]
    for i, (shape, T) in enumerate(cases):
        logits = _logits(shape, 20 + i)
        expected = torch.softmax(logits / T, dim=-1)
        got = call(fn, logits.clone(), T)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and T != 1.0:
            if torch.allclose(got, torch.softmax(logits * T, dim=-1), atol=1e-6):
                raise Mistake("you multiplied by T: divide the logits by the temperature, softmax(logits / T), "
                              "so that T < 1 sharpens and T > 1 flattens the distribution")
            if torch.allclose(got, logits / T, atol=1e-6):
                raise Mistake("return probabilities: apply the softmax to logits / T")
            if torch.allclose(got, torch.softmax(logits, dim=-1) / T, atol=1e-6):
                raise Mistake("divide the logits by T *before* the softmax; dividing probabilities does not sum to 1")
        if isinstance(got, torch.Tensor) and got.dim() > 1 and got.shape == expected.shape:
            if torch.allclose(got, torch.softmax(logits / T, dim=0), atol=1e-6):
                raise Mistake("take the softmax over the last dimension (the vocabulary), dim=-1")
        expect_close(got, expected, f"probabilities for logits of shape {shape} at T={T}", atol=1e-6)


def _top_k_exclusive(logits, k):  # the typical slip: <= removes the k-th largest too
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits <= kth, float("-inf"))


@exercise("12.top_k")
def top_k(fn):
    from ..generate import top_k_filter

    cases = [((10,), 3), ((2, 20), 5), ((4, 50), 1), ((3, 7), 7), ((2, 3, 16), 4)]
    for i, (shape, k) in enumerate(cases):
        logits = _logits(shape, 40 + i)
        expected = top_k_filter(logits, k)
        given = logits.clone()
        got = call(fn, given, k)
        what = f"top-k with k={k} on logits of shape {shape}"
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and not _same(got, expected):
            n_kept = torch.isfinite(got).sum(-1)
            if _same(got, _top_k_exclusive(logits, k)):
                raise Mistake(f"{what}: you kept only k-1 tokens; keep the k-th largest too (remove logits strictly "
                              "below it: `logits < kth`, not `<=`)")
            if bool((n_kept == k + 1).all()):
                raise Mistake(f"{what}: you kept k+1 tokens; the k-th largest is values[..., k-1] (counting from 0)")
            if torch.isfinite(got).all() and k < shape[-1]:
                zeros = got == 0
                if bool((zeros.sum(-1) == shape[-1] - k).all()):
                    raise Mistake(f"{what}: set the removed logits to float('-inf'), not 0: a logit of 0 still has "
                                  "probability e^0 / Σ e^z after the softmax")
                raise Mistake(f"{what}: nothing was removed; set every logit outside the top k to float('-inf')")
            if got.dim() > 1 and _same(got, top_k_filter(logits.transpose(0, -1), k).transpose(0, -1)):
                raise Mistake(f"{what}: pick the top k along the last dimension (the vocabulary), dim=-1")
        _expect_logits(got, expected, what)
        if not torch.equal(given, logits):
            raise Mistake("do not change the input tensor in place: return a new tensor "
                          "(masked_fill, not masked_fill_)")


def _top_p_exclusive(logits, p):  # the typical slip: drops the token that crosses p
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    remove = cumulative > p
    remove[..., 0] = False
    sorted_logits = sorted_logits.masked_fill(remove, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


def _top_p_sorted(logits, p):  # forgot to put the logits back into vocabulary order
    sorted_logits, _ = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    return sorted_logits.masked_fill(probs.cumsum(-1) - probs >= p, float("-inf"))


@exercise("12.top_p")
def top_p(fn):
    from ..generate import top_p_filter

    cases = [((12,), 0.9), ((3, 40), 0.5), ((2, 25), 0.95), ((4, 30), 0.3), ((2, 3, 20), 0.8), ((5, 16), 0.01)]
    for i, (shape, p) in enumerate(cases):
        logits = _logits(shape, 60 + i)
        expected = top_p_filter(logits, p)
        given = logits.clone()
        got = call(fn, given, p)
        what = f"top-p with p={p} on logits of shape {shape}"
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and not _same(got, expected):
            if _same(got, _top_p_exclusive(logits, p)):
                raise Mistake(f"{what}: the token whose probability makes the running sum cross p was dropped, so the "
                              "kept mass is below p. Keep it: remove a token only when the mass of the tokens BEFORE "
                              "it already reaches p (cumsum - probs >= p)")
            if _same(got, _top_p_sorted(logits, p)):
                raise Mistake(f"{what}: the logits come back in sorted order; scatter them back to the vocabulary "
                              "order (the `order` returned by torch.sort)")
            n_got, n_exp = torch.isfinite(got).sum(-1), torch.isfinite(expected).sum(-1)
            if bool((n_got == 0).any()):
                raise Mistake(f"{what}: a row has no token left; always keep at least the most likely token")
            if bool((n_got < n_exp).any()):
                raise Mistake(f"{what}: too few tokens kept; the kept probabilities must add up to at least p")
        _expect_logits(got, expected, what)
        if not torch.equal(given, logits):
            raise Mistake("do not change the input tensor in place: return a new tensor")


def _penalty_divide_all(logits, ids, penalty):  # the typical slip: a negative logit divided goes up
    return logits.scatter(1, ids, torch.gather(logits, 1, ids) / penalty)


def _penalty_per_occurrence(logits, ids, penalty):  # penalises a token once per occurrence
    out = logits.clone()
    for b in range(ids.shape[0]):
        for t in ids[b].tolist():
            out[b, t] = out[b, t] / penalty if out[b, t] > 0 else out[b, t] * penalty
    return out


@exercise("12.repetition_penalty")
def repetition_penalty(fn):
    from ..generate import apply_repetition_penalty

    cases = [((1, 12), (1, 5), 1.5), ((3, 30), (3, 8), 1.2), ((2, 20), (2, 15), 2.0)]
    for i, (shape, ids_shape, penalty) in enumerate(cases):
        logits = _logits(shape, 80 + i)
        g = torch.Generator().manual_seed(90 + i)
        ids = torch.randint(0, shape[1] // 2, ids_shape, generator=g)  # few distinct ids: some appear twice
        ids[:, 0] = logits[:, : shape[1] // 2].argmin(dim=-1)  # make sure a negative logit was seen
        ids[:, -1] = logits[:, : shape[1] // 2].argmax(dim=-1)  # and a positive one
        expected = apply_repetition_penalty(logits, ids, penalty)
        got = call(fn, logits.clone(), ids.clone(), penalty)
        what = f"penalty {penalty} on logits {shape} with ids {ids_shape}"
        same_shape = isinstance(got, torch.Tensor) and got.shape == expected.shape
        if same_shape and not torch.allclose(got, expected, atol=1e-6):
            if torch.allclose(got, _penalty_divide_all(logits, ids, penalty), atol=1e-6):
                raise Mistake(f"{what}: dividing a negative logit by the penalty makes it larger (-1 / 1.5 = -0.67), "
                              "so the token becomes MORE likely. Divide positive logits, multiply negative ones")
            if torch.allclose(got, logits.scatter(1, ids, torch.gather(logits, 1, ids) * penalty), atol=1e-6):
                raise Mistake(f"{what}: multiplying a positive logit by the penalty makes it larger; divide positive "
                              "logits, multiply negative ones")
            if torch.allclose(got, _penalty_per_occurrence(logits, ids, penalty), atol=1e-6):
                raise Mistake(f"{what}: a token that appears twice was penalised twice; penalise each seen token once")
            if shape[0] > 1:
                all_ids = ids.reshape(1, -1).expand(shape[0], -1)
                if torch.allclose(got, apply_repetition_penalty(logits, all_ids, penalty), atol=1e-6):
                    raise Mistake(f"{what}: each row has its own history; penalise in row b only the ids of ids[b]")
        expect_close(got, expected, what, atol=1e-6)
