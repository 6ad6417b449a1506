"""Threads under load: one training step and one generation loop of the course model's shape, with torch's
threads at 1 and at every core (generation also as `gc.generate` runs it, on one thread), each on an idle machine
and beside one busy competing process (a pure-Python
loop that keeps one core busy, as a second kernel or a busy browser tab does), and with OpenMP's default and
passive wait policies. Every configuration runs in a fresh subprocess (OpenMP reads its settings once, at
start-up); the figures are medians, and the comparisons are ratios between configurations measured in the same
run.

    python benchmarks/threads_under_load.py [--quick] [--save]

What the course does with the result: `gpt_course.utils.threads_for` (see its docstring).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, statistics, sys, time
import torch
from gpt_course import GPT, GPTConfig, generate
steps, new_tokens = int(sys.argv[1]), int(sys.argv[2])
torch.manual_seed(0)
model = GPT(GPTConfig(vocab_size=2048, block_size=96, n_layer=4, n_head=6, n_embd=192))
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
x = torch.randint(0, 2048, (32, 96))
times = []
for i in range(steps + 2):
    t0 = time.perf_counter()
    _, loss = model(x, x)
    opt.zero_grad()
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t0)
train_ms = 1000 * statistics.median(times[2:])
model.eval()
prompt = torch.randint(0, 2048, (1, 8))


def time_generation():
    times = []
    for i in range(3):
        t0 = time.perf_counter()
        generate(model, prompt, max_new_tokens=new_tokens, temperature=0)
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 3)


course = time_generation()  # as the course runs it: gc.generate switches to one thread on a CPU
import contextlib, gpt_course.generate as G
G.torch_threads = lambda n: contextlib.nullcontext(n)
raw = time_generation()  # the same loop on the process's threads
print(json.dumps({"threads": torch.get_num_threads(), "train_step_ms": round(train_ms, 1),
                  "generation_s": raw, "generation_course_s": course}))
"""


COMPETITORS = {  # what shares the cores: a busy pure-Python loop, or a second torch process on all its threads
    "python loop": "while True: pass",
    "torch matmuls": "import torch\na = torch.randn(384, 384)\nwhile True: a @ a",
}


def measure(threads: int, busy: str | None, wait_policy: str | None, steps: int, new_tokens: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    env.pop("OMP_WAIT_POLICY", None)
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy
    competitor = subprocess.Popen([sys.executable, "-c", COMPETITORS[busy]], env={**os.environ, "PYTHONPATH": ""}) \
        if busy else None
    try:
        if competitor:
            time.sleep(2.0)  # let it start (importing torch takes a moment)
        out = subprocess.run([sys.executable, "-c", PROBE, str(steps), str(new_tokens)], env=env, check=True,
                             capture_output=True, text=True, timeout=1800)
    finally:
        if competitor:
            competitor.kill()
            competitor.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 training steps and 16 new tokens per setting")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/threads_under_load.json")
    args = parser.parse_args(argv)
    steps, new_tokens = (2, 16) if args.quick else (8, 200)
    cores = os.cpu_count() or 1
    settings = sorted({1, cores})
    runs = []
    busy_kinds = [None, *COMPETITORS]
    for wait_policy in (None, "PASSIVE"):
        for threads in settings:
            for busy in busy_kinds:
                r = measure(threads, busy, wait_policy, steps, new_tokens)
                runs.append({"threads": threads, "competing_process": busy or "none",
                             "omp_wait_policy": wait_policy or "default",
                             **{k: r[k] for k in ("train_step_ms", "generation_s", "generation_course_s")}})

    def get(threads, busy, policy="default"):
        return next(r for r in runs if r["threads"] == threads and r["competing_process"] == busy
                    and r["omp_wait_policy"] == policy)

    summary = {}
    for policy in ("default", "PASSIVE"):
        for busy in ("none", *COMPETITORS):
            one, many = get(1, busy, policy), get(cores, busy, policy)
            summary[f"{policy}, beside: {busy}"] = {
                f"train_step_{cores}_threads_speedup_over_1": round(one["train_step_ms"] / many["train_step_ms"], 2),
                f"generation_{cores}_threads_speedup_over_1": round(one["generation_s"] / many["generation_s"], 2),
            }
    slowdown = {f"{t} thread(s), {p}, beside: {b}": {
        "train_step": round(get(t, b, p)["train_step_ms"] / get(t, "none", p)["train_step_ms"], 2),
        "generation": round(get(t, b, p)["generation_s"] / get(t, "none", p)["generation_s"], 2),
        "generation_as_the_course_runs_it": round(get(t, b, p)["generation_course_s"]
                                                  / get(t, "none", p)["generation_course_s"], 2)}
        for p in ("default", "PASSIVE") for t in settings for b in COMPETITORS}
    emit("threads_under_load", {
        "mode": "quick" if args.quick else "full", "cores": cores,
        "workload": {"model": "4 layers x 192, vocab 2048, block 96", "train_batch": 32,
                     "train_steps_timed": steps, "generation_new_tokens": new_tokens, "generation": "batch 1, "
                     "greedy, KV cache"},
        "runs": runs,
        "speedup_of_all_cores_over_one_thread": summary,
        "slowdown_beside_busy_process": slowdown,
    }, args.save)


if __name__ == "__main__":
    main()
