"""Checks for notebook 00 (setup and course map)."""
import os

from . import Mistake, call, exercise


@exercise("00.count_parameters")
def count_parameters(fn):
    from torch import nn

    for layer in (nn.Linear(3, 5), nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2, bias=False))):
        expected = sum(p.numel() for p in layer.parameters())
        got = call(fn, layer)
        if got != expected:
            raise Mistake(f"for {layer} expected {expected} parameters, got {got} (count weights and biases)")


@exercise("00.pick")
def check_pick(fn):
    saved = os.environ.get("GPT_COURSE_FAST")
    try:
        for value, fast in (("1", True), ("0", False), (None, False)):
            if value is None:
                os.environ.pop("GPT_COURSE_FAST", None)
            else:
                os.environ["GPT_COURSE_FAST"] = value
            got = call(fn, 2000, 20)
            expected = 20 if fast else 2000
            if got == expected:
                continue
            setting = "GPT_COURSE_FAST unset" if value is None else f"GPT_COURSE_FAST={value}"
            if got not in (2000, 20):
                raise Mistake(f"with {setting} expected one of the two values you were given "
                              f"({expected}), got {got!r}")
            if value == "0":
                raise Mistake("GPT_COURSE_FAST=0 means learner mode, but the string '0' is not empty, so Python "
                              "counts it as true: compare with '1' (or '0') instead of testing the string's truth")
            raise Mistake(f"with {setting} the {'test' if fast else 'learner'} value {expected} "
                          f"should come back, got {got!r}. Read the variable inside the function, with "
                          f"os.environ.get('GPT_COURSE_FAST'), every time it is called")
    finally:
        if saved is None:
            os.environ.pop("GPT_COURSE_FAST", None)
        else:
            os.environ["GPT_COURSE_FAST"] = saved
