"""Checks for notebook 11 (other pretraining objectives: BERT masking, InfoNCE, retrieval accuracy)."""
import torch
import torch.nn.functional as F

from . import Mistake, call, exercise, expect_close
from ..model import IGNORE_INDEX


@exercise("11.mask_tokens")
def mask_tokens(fn):
    vocab_size, mask_id = 50, 50
    ids = torch.randint(0, vocab_size, (200, 400), generator=torch.Generator().manual_seed(0))
    out = call(fn, ids.clone(), mask_id, vocab_size, torch.Generator().manual_seed(1))
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
        raise Mistake("return a pair of tensors (inputs, labels)")
    inputs, labels = out
    if inputs.shape != ids.shape or labels.shape != ids.shape:
        raise Mistake(f"inputs and labels must have the shape of ids {tuple(ids.shape)}, got "
                      f"{tuple(inputs.shape)} and {tuple(labels.shape)}")
    chosen = labels != IGNORE_INDEX
    if chosen.all():
        raise Mistake("every label is set: positions that were not chosen must get label -100, so the loss "
                      "ignores them")
    frac = chosen.float().mean().item()
    if not 0.14 < frac < 0.16:
        raise Mistake(f"{frac:.1%} of the positions were chosen; choose each with probability 0.15")
    if not torch.equal(labels[chosen], ids[chosen]):
        raise Mistake("at a chosen position the label must be the ORIGINAL token (what the model should recover)")
    if not torch.equal(inputs[~chosen], ids[~chosen]):
        raise Mistake("positions that were not chosen must stay unchanged in the inputs")
    n = chosen.sum().item()
    masked = ((inputs == mask_id) & chosen).sum().item() / n
    kept = ((inputs == ids) & chosen).sum().item() / n
    if masked > 0.97:
        raise Mistake("all chosen positions became [MASK]: BERT's rule is 80% [MASK], 10% a random token, "
                      "10% unchanged (the model must not learn that only [MASK] positions matter)")
    if not 0.77 < masked < 0.83:
        raise Mistake(f"{masked:.0%} of the chosen positions became [MASK]; it should be 80%")
    if not 0.08 < kept < 0.125:
        raise Mistake(f"{kept:.0%} of the chosen positions kept their token; it should be about 10% "
                      "(plus the rare random draw that hits the same token)")
    if (inputs == mask_id).sum().item() != ((inputs == mask_id) & chosen).sum().item():
        raise Mistake("[MASK] appears at positions that were not chosen")
    if inputs.max().item() > mask_id or inputs.min().item() < 0:
        raise Mistake(f"random replacements must be ordinary tokens, ids 0..{vocab_size - 1}")


@exercise("11.info_nce")
def info_nce(fn):
    from ..objectives import info_nce as reference

    for n, d, t in [(4, 8, 0.1), (16, 32, 0.05), (3, 3, 1.0)]:
        g = torch.Generator().manual_seed(n)
        q = torch.randn(n, d, generator=g) * torch.rand(n, 1, generator=g) * 5  # rows of different lengths
        k = torch.randn(n, d, generator=g) * torch.rand(n, 1, generator=g) * 5
        expected = reference(q, k, t, symmetric=False)
        got = call(fn, q.clone(), k.clone(), t)
        if isinstance(got, torch.Tensor) and got.shape == () and not torch.allclose(got, expected, atol=1e-5):
            raw = F.cross_entropy(q @ k.T / t, torch.arange(n))
            if torch.allclose(got, raw, atol=1e-5):
                raise Mistake("use cosine similarities: L2-normalise queries and keys (F.normalize(x, dim=-1)) "
                              "before the dot products")
            if torch.allclose(got, reference(q, k, 1.0, symmetric=False), atol=1e-5):
                raise Mistake("divide the similarities by the temperature before the cross-entropy")
            if torch.allclose(got, reference(k, q, t, symmetric=False), atol=1e-5):
                raise Mistake("row i of the score matrix should be query i against all keys: scores = q @ k.T "
                              "(you scored each key against all queries)")
        expect_close(got, expected, f"InfoNCE for N={n}, D={d}, temperature={t}", atol=1e-5, rtol=1e-5)


@exercise("11.retrieval_top1")
def retrieval_top1(fn):
    g = torch.Generator().manual_seed(0)
    for n, d in [(8, 16), (32, 4), (5, 64)]:
        keys = torch.randn(n, d, generator=g) * torch.rand(n, 1, generator=g).mul(10).add(0.1)  # lengths differ
        queries = keys * 0.3 + torch.randn(n, d, generator=g) * 2  # query i is a noisy copy of key i
        cos = F.normalize(queries, dim=-1) @ F.normalize(keys, dim=-1).T
        expected = (cos.argmax(dim=1) == torch.arange(n)).float().mean().item()
        got = call(fn, queries.clone(), keys.clone())
        if isinstance(got, torch.Tensor):
            if got.numel() != 1:
                raise Mistake(f"return one number (the fraction of queries retrieved correctly), got shape "
                              f"{tuple(got.shape)}")
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Mistake(f"return a number between 0 and 1, got {type(got).__name__}")
        if abs(got - expected) < 1e-6:
            continue
        dot = (queries @ keys.T).argmax(dim=1) == torch.arange(n)
        wrong_axis = (cos.argmax(dim=0) == torch.arange(n)).float().mean().item()
        if abs(got - dot.float().mean().item()) < 1e-6:
            raise Mistake("rank by cosine similarity: with raw dot products a long key vector wins for every "
                          "query; normalise both sides first")
        if abs(got - wrong_axis) < 1e-6:
            raise Mistake("take the argmax over the keys for each query (dim=1 of queries @ keys.T), not over the "
                          "queries")
        if abs(got - expected * n) < 1e-6:
            raise Mistake("return the fraction of correct queries (between 0 and 1), not their count")
        raise Mistake(f"for {n} pairs expected top-1 accuracy {expected:.3f}, got {got:.3f}")
