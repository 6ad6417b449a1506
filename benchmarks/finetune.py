"""Fine-tuning on held-out data: the four figures notebooks 14-17 stand on, measured with the notebooks' own recipes.

    python benchmarks/finetune.py [--quick] [--save] [--only spam summarization dialogue creative]

Each task lives in benchmarks/_finetune_<task>.py as `measure(quick: bool) -> dict` and starts from the shipped
course checkpoint. Without --quick each task runs as notebook 14-17 does in learner mode (spam over several
seeds); --quick shrinks every run so the whole script prints its JSON in a few minutes (the numbers are then
not the notebooks' figures). `--save` merges the tasks that ran into benchmarks/results/finetune.json, so one
task can be re-measured alone.
"""
from __future__ import annotations

import argparse
import fcntl
import importlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine  # noqa: E402

TASKS = ("spam", "summarization", "dialogue", "creative")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small runs, for the test suite")
    parser.add_argument("--save", action="store_true", help="merge the results into benchmarks/results/finetune.json")
    parser.add_argument("--only", nargs="+", choices=TASKS, default=list(TASKS))
    args = parser.parse_args()
    if args.save and args.quick:
        parser.error("--quick runs are not the notebooks' figures: they are never saved")

    result: dict = {"benchmark": "finetune", "quick": args.quick}
    for task in args.only:
        t0 = time.perf_counter()
        part = importlib.import_module(f"_finetune_{task}").measure(quick=args.quick)
        part["seconds"] = round(time.perf_counter() - t0, 1)
        part["machine"] = machine()
        result[task] = part
    print(json.dumps(result, indent=2))
    if args.save:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "finetune.json"
        with open(RESULTS / ".finetune.lock", "w") as lock:  # tasks may be saved from separate processes
            fcntl.flock(lock, fcntl.LOCK_EX)
            saved = json.loads(path.read_text()) if path.exists() else {"benchmark": "finetune"}
            saved.update({task: result[task] for task in args.only})
            saved["quick"] = False
            path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
