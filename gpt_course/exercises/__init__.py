"""Exercises with automatic checks: `check("04.attention", my_function)` tests a learner's function
against the package's reference and says, in words, what is wrong.

Each notebook has a module here (`nb04.py`, ...) whose checks are registered with `@exercise("04.name")`.
A check receives the learner's object and raises `Mistake("what is wrong, and a hint")` if it is wrong.
When the environment variable GPT_COURSE_GRADE_LOG names a file, `check` also appends its verdict there as one
JSON line (the grader, `python -m gpt_course.classroom grade`, reads it).
"""
from __future__ import annotations

import importlib
import json
import os
from typing import Any, Callable

import torch

_CHECKS: dict[str, Callable[[Any], None]] = {}


class Mistake(AssertionError):
    """Raised by a check: its message is shown to the learner."""


class NotAttempted(Exception):
    """The learner's function still raises NotImplementedError or returns Ellipsis."""


def exercise(name: str) -> Callable:
    """Register a check under `name` ("NN.short_name", NN = the notebook number)."""
    def register(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        if name in _CHECKS:
            raise ValueError(f"exercise {name!r} is registered twice")
        _CHECKS[name] = fn
        return fn
    return register


def _load(name: str) -> Callable[[Any], None]:
    if name not in _CHECKS:
        notebook = name.split(".", 1)[0]
        try:
            importlib.import_module(f"{__name__}.nb{notebook}")
        except ModuleNotFoundError:
            pass
    if name not in _CHECKS:
        known = ", ".join(sorted(_CHECKS)) or "none loaded"
        raise KeyError(f"no exercise called {name!r}; known exercises: {known}")
    return _CHECKS[name]


def call(fn: Callable, *args, **kwargs):
    """Call the learner's function; turn 'not written yet' into NotAttempted and crashes into a Mistake."""
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError as err:
        raise NotAttempted() from err
    except Mistake:
        raise
    except Exception as err:  # the learner's code crashed: say how, without a traceback
        raise Mistake(f"your function raised {type(err).__name__}: {err}") from err
    if out is Ellipsis:
        raise NotAttempted()
    return out


def expect_close(got, expected, what: str, atol: float = 1e-5, rtol: float = 1e-5) -> None:
    """Mistake unless `got` is a tensor of the expected shape and values."""
    if not isinstance(got, torch.Tensor):
        raise Mistake(f"{what}: expected a torch.Tensor, got {type(got).__name__}")
    if got.shape != expected.shape:
        raise Mistake(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    if not torch.allclose(got.double(), expected.double(), atol=atol, rtol=rtol):
        diff = (got.double() - expected.double()).abs().max().item()
        raise Mistake(f"{what}: values differ from the reference (largest difference {diff:.3g})")


def run_check(name: str, answer: Any) -> bool:
    """Run a check and return True if it passed; raises Mistake / NotAttempted otherwise (for tests)."""
    _load(name)(answer)
    return True


def check(name: str, answer: Any) -> bool:
    """Check a learner's answer and print the verdict; never raises, so a notebook keeps running."""
    try:
        run_check(name, answer)
    except NotAttempted:
        print(f"[{name}] not attempted yet: replace the `...` / NotImplementedError with your code and run again.")
        _log(name, "not attempted")
        return False
    except Mistake as err:
        print(f"[{name}] not quite: {err}")
        _log(name, "not quite", str(err))
        return False
    print(f"[{name}] correct!")
    _log(name, "correct")
    return True


def _log(name: str, status: str, message: str = "") -> None:
    path = os.environ.get("GPT_COURSE_GRADE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"exercise": name, "status": status, "message": message}) + "\n")
