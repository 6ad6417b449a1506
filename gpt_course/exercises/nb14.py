"""Checks for notebook 14 (fine-tuning a classifier: last-token pooling, class weights, F1)."""
import numpy as np
import torch

from . import Mistake, call, exercise, expect_close


@exercise("14.last_token_state")
def last_token_state(fn):
    g = torch.Generator().manual_seed(14)
    for B, T, C in ((3, 6, 4), (5, 9, 8), (1, 1, 2)):
        hidden = torch.randn(B, T, C, generator=g)
        lengths = torch.randint(1, T + 1, (B,), generator=g)
        lengths[0] = max(1, T - 2) if T > 2 else T  # some rows padded, some not
        expected = hidden[torch.arange(B), lengths - 1]
        got = call(fn, hidden.clone(), lengths.clone())
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and not torch.allclose(got, expected):
            if torch.allclose(got, hidden[:, -1]):
                raise Mistake("you took the last position, hidden[:, -1], which is padding in shorter rows: "
                              "take position lengths[i] - 1 of row i")
            shifted = hidden[torch.arange(B), lengths.clamp(max=T - 1)]
            if torch.allclose(got, shifted):
                raise Mistake("off by one: a row of length n has its last real token at index n - 1")
        expect_close(got, expected, f"last-token states for hidden of shape {(B, T, C)}")


@exercise("14.class_weights")
def class_weights_check(fn):
    from ..finetune import class_weights

    for labels, k in (([0] * 8 + [1] * 2, 2), ([0] * 70 + [1] * 20 + [2] * 10, 3), ([1, 0, 1, 1], 2)):
        expected = class_weights(labels, k)
        got = call(fn, torch.tensor(labels), k)
        got = torch.as_tensor(got, dtype=torch.float32) if not isinstance(got, torch.Tensor) else got.float()
        counts = torch.bincount(torch.tensor(labels), minlength=k).float()
        if got.shape == expected.shape and not torch.allclose(got, expected):
            if torch.allclose(got, counts / len(labels)):
                raise Mistake("those are the class frequencies: a rare class must get a LARGER weight, "
                              "so divide by the count instead of multiplying")
            if torch.allclose(got, 1 / counts):
                raise Mistake("1 / count has the right shape of weights but not the scale: multiply by "
                              "n / k so that a balanced data set gets weight 1 for every class")
        expect_close(got, expected, f"weights for class counts {counts.int().tolist()}")


@exercise("14.f1_score")
def f1_score(fn):
    for confusion in (np.array([[90, 10], [5, 45]]), np.array([[50, 0], [30, 20]]), np.array([[3, 7], [1, 9]])):
        tp, fp, fn_ = confusion[1, 1], confusion[0, 1], confusion[1, 0]
        p, r = tp / (tp + fp), tp / (tp + fn_)
        expected = 2 * p * r / (p + r)
        got = call(fn, confusion.copy())
        if not isinstance(got, (float, int, np.floating)):
            raise Mistake(f"return a number, got {type(got).__name__}")
        if abs(got - expected) < 1e-9:
            continue
        if abs(got - (p + r) / 2) < 1e-9:
            raise Mistake("that is the arithmetic mean of precision and recall; F1 is their harmonic mean, "
                          "2PR / (P + R), which punishes a low value of either")
        if abs(got - np.trace(confusion) / confusion.sum()) < 1e-9:
            raise Mistake("that is the accuracy; F1 looks only at the positive class (spam)")
        raise Mistake(f"for confusion {confusion.tolist()} (rows: true class) expected F1 {expected:.4f}, got {got}")
