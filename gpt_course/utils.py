"""Seeding, device choice and the course's two running modes (learner and fast test mode)."""
from __future__ import annotations

import functools
import json
import os
import random
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
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


@dataclass(frozen=True)
class Precision:
    """The number format training runs in, and why (`choose_precision`)."""

    dtype: torch.dtype
    reason: str

    @property
    def autocast(self) -> bool:
        return self.dtype != torch.float32

    def context(self, device: torch.device | str):
        """`torch.autocast` to bfloat16 where chosen, else a context that changes nothing."""
        return torch.autocast(torch.device(device).type, dtype=self.dtype, enabled=self.autocast)


AUTOCAST_MIN_WIDTH_CPU = 384  # measured: bfloat16 autocast was slower at width 192 (casts dominate), 1.3x at 384


def cpu_has_bf16_units() -> bool:
    """True on CPUs with bfloat16 matrix instructions (Intel AMX or AVX-512 BF16); elsewhere torch emulates them."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(probe is not None and probe() for probe in probes)


def choose_precision(device: torch.device | str, n_embd: int, requested: str = "auto") -> Precision:
    """The one place that decides whether training uses bfloat16 autocast or float32, and says why.

    * ``"auto"`` (the default): bfloat16 autocast on a CUDA GPU that supports it; on a CPU only with bfloat16
      matrix units (AMX or AVX-512 BF16) and a model at least `AUTOCAST_MIN_WIDTH_CPU` wide, because at the
      course model's width the casts around each matrix product cost more than the faster products save
      (benchmarks/train_throughput.py and notebook 10, section 10.13, measure it); float32 everywhere else.
    * ``"float32"`` or ``"bfloat16"``: that, whatever the hardware (GPT_COURSE_PRECISION sets it too).
    """
    requested = os.environ.get("GPT_COURSE_PRECISION", "").strip().lower() or requested
    if requested not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16', got {requested!r} "
                         "(from the argument or GPT_COURSE_PRECISION)")
    kind = torch.device(device).type
    if requested == "float32":
        return Precision(torch.float32, "float32 as requested")
    if requested == "bfloat16":
        return Precision(torch.bfloat16, "bfloat16 autocast as requested")
    if kind == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision(torch.bfloat16, "CUDA GPU with bfloat16 support: bfloat16 autocast")
        return Precision(torch.float32, "CUDA GPU without bfloat16 support: float32")
    if kind != "cpu":
        return Precision(torch.float32, f"{kind} device: float32")
    if not cpu_has_bf16_units():
        return Precision(torch.float32, f"CPU without bfloat16 matrix units ({torch.backends.cpu.get_cpu_capability()}"
                                        "): bfloat16 would be emulated and slower, so float32")
    if n_embd < AUTOCAST_MIN_WIDTH_CPU:
        return Precision(torch.float32, f"CPU with bfloat16 units, but at width {n_embd} (< "
                                        f"{AUTOCAST_MIN_WIDTH_CPU}) the casts cost more than they save: float32")
    return Precision(torch.bfloat16, f"CPU with bfloat16 units and width {n_embd}: bfloat16 autocast")


# ----------------------------------------------------------------------------------------------
# Threads: what to do when the machine is shared (benchmarks/threads_under_load.py measures it)


@contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """Run a `with` block with `n` intra-op threads, then restore the previous number."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be an int >= 1, got {n!r}")
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def busy_cores_elsewhere(sample_s: float = 0.2) -> float | None:
    """How many cores other processes keep busy, measured over `sample_s` seconds while this one waits
    (None where it cannot be measured)."""
    try:
        import psutil
    except ImportError:
        return None
    return psutil.cpu_percent(interval=sample_s) / 100 * (psutil.cpu_count() or 1)


def training_threads() -> tuple[int, str]:
    """Threads for a training run on the CPU, and why.

    Every core when the machine is idle. When other processes keep some cores busy (a second notebook, a busy
    browser), only the spare ones: torch's threads wait for each other at every operation, so one thread that
    has to share its core with another process holds up all of them, and a run with more threads than free
    cores becomes several times slower than one with fewer (see benchmarks/threads_under_load.py).
    Never more than torch's own setting (all cores unless OMP_NUM_THREADS or `torch.set_num_threads` said
    otherwise); GPT_COURSE_THREADS fixes the number. A thread count other than the idle one can change the last
    digits of the results (sums are split differently).
    """
    fixed = os.environ.get("GPT_COURSE_THREADS", "").strip()
    if fixed:
        if not fixed.isdigit() or int(fixed) < 1:
            raise ValueError(f"GPT_COURSE_THREADS must be a whole number >= 1, got {fixed!r}")
        return int(fixed), "GPT_COURSE_THREADS"
    most = torch.get_num_threads()
    busy = busy_cores_elsewhere()
    if busy is None:
        return most, "all cores (load cannot be measured here)"
    spare = max(1, min(most, int((os.cpu_count() or 1) - busy + 0.5)))
    if spare == most:
        return most, f"{most} thread(s): the machine is otherwise idle"
    return spare, f"{spare} of {most} threads: other processes keep about {busy:.1f} cores busy"


# ----------------------------------------------------------------------------------------------
# Progress bars that stay readable where no kernel runs


def progress(iterable=None, total: int | None = None, desc: str | None = None, **kwargs):
    """`tqdm.auto.tqdm` with one difference in a notebook: when the bar closes, the plain-text form of its output
    (what GitHub, nbviewer or a projector without a kernel show instead of the widget) becomes the final count,
    for example ``training: 800/800 done``, instead of the ``0%`` it had when it was first displayed. The text
    holds no times, so that it is the same on every machine."""
    from tqdm.auto import tqdm

    if kwargs.get("disable") or not _in_notebook(tqdm):
        return tqdm(iterable, total=total, desc=desc, **kwargs)
    return _notebook_progress_class()(iterable, total=total, desc=desc, **kwargs)


def _in_notebook(auto_tqdm) -> bool:
    """True when tqdm.auto chose its notebook widget (in a Jupyter kernel with ipywidgets)."""
    try:
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:
        return False
    return issubclass(auto_tqdm, notebook_tqdm)


@functools.cache
def _notebook_progress_class():  # built on first use: tqdm.notebook needs ipywidgets
    from tqdm.notebook import tqdm as notebook_tqdm

    class NotebookProgress(notebook_tqdm):
        def __init__(self, *args, **kwargs):
            from IPython.display import display

            super().__init__(*args, **{**kwargs, "display": False})
            self._handle = display(self._bundle(repr(self.container)), raw=True, display_id=True)

        def _bundle(self, text: str) -> dict:
            return {"text/plain": text, "application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": self.container.model_id}}

        def close(self) -> None:
            if self.disable or getattr(self, "_closed_text", False):
                return super().close()
            super().close()
            self._closed_text = True
            total = f"/{self.total:,}" if self.total else ""
            state = "done" if not self.total or self.n >= self.total else "stopped"
            self._handle.update(self._bundle(f"{self.desc + ': ' if self.desc else ''}{self.n:,}{total} {state}"),
                                raw=True)

    return NotebookProgress


RUN_TIMES = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "notebooks.json"


def duration(seconds: float) -> str:
    """A measured time as a reader says it: "42 seconds", "9.5 minutes"."""
    return f"{seconds:.0f} seconds" if seconds < 90 else f"{seconds / 60:.1f} minutes"


def measured_run_time(notebook: str, results: str | os.PathLike | None = None) -> str:
    """One line for the top of a notebook: how long it took when the course's suite last ran it
    (`python benchmarks/notebooks.py --save`), as written and in test mode, on which machine.

    `notebook` is its name without `.ipynb` ("10_pretraining"). Without the results file (a package installed
    outside a checkout) or without a measurement of that notebook, the line says so instead of guessing."""
    path = Path(results) if results is not None else RUN_TIMES
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"Run time: not measured here ({path} is missing or unreadable)."
    entry = suite.get("notebooks", {}).get(notebook)
    if entry is None:
        known = ", ".join(sorted(suite.get("notebooks", {}))[:3])
        raise ValueError(f"no measured run time for {notebook!r} in {path}: use the notebook's file name without "
                         f".ipynb, like {known}")

    machine = suite.get("machine", {})
    parts = [f"{duration(entry[mode]['seconds'])} {label}" for mode, label in
             (("learner", "as written"), ("test", "in test mode (GPT_COURSE_FAST=1)")) if mode in entry]
    where = ", ".join(str(v) for v in (f"{machine.get('cores', '?')} CPU cores",
                                        machine.get("cpu_name") or machine.get("cpu"), machine.get("cpu_capability")) if v)
    return f"Run time, measured by the course's suite ({where}): " + ", ".join(parts) + "."
