"""Shared helpers for the benchmark scripts: machine facts, a measured GEMM peak, JSON output."""
from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_name() -> str:
    """The CPU's model name ("AMD EPYC 7B13"), from /proc/cpuinfo where there is one."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_name": cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def gemm_peak_flops(n: int = 1024, repeats: int = 10, dtype: torch.dtype = torch.float32) -> float:
    """Matrix-multiply FLOP/s at `dtype` measured now, in this process (the 'peak' for model FLOP utilisation)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / min(times)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def emit(name: str, result: dict, save: bool) -> None:
    """Print one JSON object; with `save`, also write it to benchmarks/results/<name>.json."""
    result = {"benchmark": name, "machine": machine(), **result}
    text = json.dumps(result, indent=2)
    print(text)
    if save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{name}.json").write_text(text + "\n")
