"""Seeding, device choice and the course's two running modes (learner and fast test mode)."""
from __future__ import annotations

import os
import random
from contextlib import contextmanager
from typing import Iterator, TypeVar

import numpy as np
import torch

T = TypeVar("T")


def seed_everything(seed: int = 1337) -> torch.Generator:
    """Seed Python, NumPy and PyTorch so a notebook prints the same numbers on every CPU run.

    Returns a `torch.Generator` seeded the same way, for code that wants its own stream.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def default_device() -> torch.device:
    """CUDA when present, else CPU. Apple MPS only when asked for with GPT_COURSE_DEVICE=mps.

    MPS is opt-in because some PyTorch releases compute wrong losses on it. GPT_COURSE_DEVICE
    (cpu, cuda, cuda:1, mps) overrides the choice.
    """
    wanted = os.environ.get("GPT_COURSE_DEVICE", "").strip().lower()
    if wanted:
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"GPT_COURSE_DEVICE={wanted} but CUDA is not available; unset it to use the CPU")
        if wanted == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise RuntimeError("GPT_COURSE_DEVICE=mps but Apple MPS is not available; unset it to use the CPU")
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fast_mode() -> bool:
    """True in test mode (GPT_COURSE_FAST=1): notebooks shrink steps and sizes so the suite fits CI."""
    return os.environ.get("GPT_COURSE_FAST", "0").strip() not in ("", "0", "false", "False")


def pick(learner: T, fast: T) -> T:
    """The learner-mode value, or the smaller test-mode value when GPT_COURSE_FAST=1."""
    return fast if fast_mode() else learner


@contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Put `model` in eval mode (dropout off) for a `with` block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
