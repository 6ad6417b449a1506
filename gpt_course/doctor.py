"""Is this machine ready for the course? Versions, data, checkpoint, browser, and the time of a training step.

    python -m gpt_course.doctor            # a table of checks; exit status 0 when the machine is ready
    python -m gpt_course.doctor --json     # the same as JSON (for a classroom script)

Run it on every machine of a classroom before the lesson (see docs/teaching.md). It needs no network.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass

import torch

# The minimum versions pyproject.toml asks for (notebook 00 checks the same ones).
MINIMUM_VERSIONS = {"python": "3.10", "torch": "2.2", "numpy": "1.24", "matplotlib": "3.7", "ipywidgets": "8.1",
                    "jupyterlab": "4.0", "transformers": "4.45", "safetensors": "0.4", "tqdm": "4.66"}
# Notebook 10 trains this many steps of the course model in learner mode; a teacher plans on the estimate.
NOTEBOOK_10_STEPS = 800  # pretrain.QUICK_RECIPE.train.max_steps (tests/test_doctor.py checks they agree)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_versions() -> list[Check]:
    out = []
    for name, minimum in MINIMUM_VERSIONS.items():
        if name == "python":
            have = platform.python_version()
        else:
            try:
                have = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                out.append(Check(name, False, f"not installed (need >= {minimum}): pip install -e . in the repository"))
                continue
        ok = _version_tuple(have) >= _version_tuple(minimum)
        out.append(Check(name, ok, f"{have} (need >= {minimum})" + ("" if ok else ": pip install -e . again")))
    return out


def check_data() -> list[Check]:
    from . import data

    out = []
    for what, load in (("WikiText-2 course split", lambda: [data.load_wikitext2(s) for s in data.WIKITEXT2_SPLITS]),
                       ("SMS Spam Collection", data.load_sms_spam), ("tiny-shakespeare", data.load_tinyshakespeare)):
        try:
            load()
            out.append(Check(f"data: {what}", True, f"present, SHA-256 verified ({data.data_dir()})"))
        except (OSError, ValueError) as e:  # missing (FileNotFoundError) or changed (DataIntegrityError)
            out.append(Check(f"data: {what}", False, str(e)))
    return out


def check_checkpoint() -> tuple[Check, torch.nn.Module | None]:
    from .checkpoint import checkpoint_path, load_course_model

    path = checkpoint_path()
    if not path.is_file():
        return Check("course checkpoint", False, f"{path} is missing: `python -m gpt_course.pretrain` makes it "
                     "(or copy it from another machine)"), None
    try:
        model, _ = load_course_model(path, device="cpu")
    except Exception as e:  # a truncated or foreign file: say what and how to fix it
        return Check("course checkpoint", False, f"{path} does not load ({type(e).__name__}: {e}); copy it again "
                     "from the repository (`git checkout -- data/checkpoints`)"), None
    size = path.stat().st_size / 2**20
    return Check("course checkpoint", True, f"{path.name}, {size:.1f} MiB, {model.num_parameters():,} parameters"), model


def check_browser() -> Check:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Check("chromium (browser test only)", bool(found), found or "not found; only the browser test needs it "
                 "(apt-get install chromium)", required=False)


def time_training_step(config, steps: int = 3, batch_size: int = 32) -> float:
    """Seconds per AdamW training step of a fresh model of `config` (a GPTConfig) on random tokens, after one
    warm-up step (the fastest of `steps`)."""
    from .model import GPT

    model = GPT(config).train()
    c = model.config
    g = torch.Generator().manual_seed(0)
    x = torch.randint(c.vocab_size, (batch_size, c.block_size), generator=g)
    y = torch.randint(c.vocab_size, (batch_size, c.block_size), generator=g)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t)
    return min(times[1:])


def run(measure: bool = True) -> dict:
    checks = check_versions() + check_data()
    ckpt, model = check_checkpoint()
    checks += [ckpt, check_browser()]
    report = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                          "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                          "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                          "cuda": torch.cuda.is_available(),
                          "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}}
    if measure and model is not None:
        load = report["machine"]["load_average"]
        busy = bool(load) and load[0] > 0.5 * (os.cpu_count() or 1)
        from .pretrain import QUICK_RECIPE  # notebook 10's run: the course model's shape and batch

        step = time_training_step(QUICK_RECIPE.model, batch_size=QUICK_RECIPE.train.batch_size)
        report["step_seconds"] = round(step, 4)
        report["notebook_10_training_minutes"] = round(step * NOTEBOOK_10_STEPS / 60, 1)
        checks.append(Check("speed", True, f"{step * 1000:.0f} ms per training step of the course model: about "
                            f"{step * NOTEBOOK_10_STEPS / 60:.1f} min for notebook 10's {NOTEBOOK_10_STEPS} steps"
                            + (" (other programs are using the CPU: this estimate is pessimistic)" if busy else ""),
                            required=False))
    report["checks"] = [asdict(c) for c in checks]
    report["ready"] = all(c.ok for c in checks if c.required)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpt_course.doctor", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--no-timing", action="store_true", help="skip the measured training step")
    args = parser.parse_args(argv)
    report = run(measure=not args.no_timing)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        m = report["machine"]
        print(f"gpt-course doctor: Python {m['python']}, {m['cpu_count']} CPUs ({m['cpu_capability']}), "
              f"torch threads {m['torch_threads']}, CUDA {m['cuda']}, load average {m['load_average']}")
        for c in report["checks"]:
            mark = "ok  " if c["ok"] else ("FAIL" if c["required"] else "--  ")
            print(f"  {mark} {c['name']:30s} {c['detail']}")
        print("ready for the course" if report["ready"] else "NOT ready: fix the FAIL lines above")
    return 0 if report["ready"] else 1


if __name__ == "__main__":
    sys.exit(main())
