"""The notebook suite: wall time and peak memory (RSS of the kernel) of every notebook, executed with
nbconvert in test mode (GPT_COURSE_FAST=1) and in learner mode.

    python benchmarks/notebooks.py [--quick] [--save] [--modes test learner] [--only 04 05] [--write]

`--write` copies each notebook executed in learner mode back over notebooks/NN_*.ipynb (how the committed,
executed notebooks are made), so one run both measures the suite and refreshes the outputs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Runs a command and reports its wall time and the peak RSS of all its (waited-for) descendants.
WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter(); r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(json.dumps({'seconds': time.perf_counter() - t, 'returncode': r.returncode, 'stderr': r.stderr[-2000:],\n"
    "                  'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n"
)


def run_notebook(path: Path, fast: bool, timeout: int, write: bool = False) -> dict:
    env = {**os.environ, "GPT_COURSE_FAST": "1" if fast else "0"}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-c", WRAPPER, sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
               "--execute", f"--ExecutePreprocessor.timeout={timeout}", "--output-dir", tmp, str(path)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT / "notebooks")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if write and result["returncode"] == 0:
            shutil.copyfile(Path(tmp) / path.name, path)
    row = {"seconds": round(result["seconds"], 1), "peak_rss_mb": round(result["peak_rss_mb"]),
           "ok": result["returncode"] == 0}
    if not row["ok"]:
        row["error"] = result["stderr"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="notebook 00 in test mode only (under a minute)")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/notebooks.json (with --only or "
                        "one mode: update those entries, keep the others)")
    parser.add_argument("--modes", nargs="+", default=["test", "learner"], choices=["test", "learner"])
    parser.add_argument("--only", nargs="*", default=None, help="notebook numbers, e.g. 04 05")
    parser.add_argument("--write", action="store_true",
                        help="write the notebooks executed in learner mode back into notebooks/")
    args = parser.parse_args()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    modes = args.modes
    if args.quick:
        notebooks, modes = notebooks[:1], ["test"]
    if args.only:
        notebooks = [p for p in notebooks if p.name[:2] in args.only]
    table = {}
    for path in notebooks:
        table[path.stem] = {mode: run_notebook(path, mode == "test", 1800, write=args.write and mode == "learner")
                            for mode in modes}
        print(path.stem, json.dumps(table[path.stem]), file=sys.stderr, flush=True)
    if args.save and not args.quick and (args.only or set(modes) != {"test", "learner"}):
        # a partial run updates its notebooks and modes in the saved table; the others keep their measurement
        saved = json.loads((ROOT / "benchmarks" / "results" / "notebooks.json").read_text())["notebooks"]
        for name, rows in table.items():
            saved.setdefault(name, {}).update(rows)
        table, modes = saved, sorted({mode for rows in saved.values() for mode in rows})
    summary = {}
    for mode in modes:
        rows = [r[mode] for r in table.values() if mode in r]
        summary[mode] = {"total_seconds": round(sum(r["seconds"] for r in rows), 1),
                         "max_seconds": max(r["seconds"] for r in rows),
                         "max_peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
                         "all_ok": all(r["ok"] for r in rows)}
    emit("notebooks", {"mode": "quick" if args.quick else "full", "summary": summary, "notebooks": table}, args.save)


if __name__ == "__main__":
    main()
