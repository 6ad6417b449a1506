"""Checks for notebook 00 (setup and course map)."""
from . import Mistake, call, exercise


@exercise("00.count_parameters")
def count_parameters(fn):
    from torch import nn

    for layer in (nn.Linear(3, 5), nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2, bias=False))):
        expected = sum(p.numel() for p in layer.parameters())
        got = call(fn, layer)
        if got != expected:
            raise Mistake(f"for {layer} expected {expected} parameters, got {got} (count weights and biases)")


def _count(module):
    return sum(p.numel() for p in module.parameters())


SOLUTIONS = {"00.count_parameters": (_count, lambda module: len(list(module.parameters())))}
