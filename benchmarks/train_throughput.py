"""Training throughput: one step (forward + backward + AdamW) of gpt_course.GPT vs transformers'
GPT2LMHeadModel with the identical config, batch and data, runs alternating, median of the timed steps; in
float32 and in bfloat16 (`torch.autocast`, the way `Trainer` trains when `utils.choose_precision` picks it),
each against the other library at the same precision and as a fraction of the GEMM peak measured now at that
precision. The course model's own shape (4x192) is one of the sizes: precision is a lever only if it pays on the
model that trains. The full mode adds `torch.compile` on the course shape where a compiler is present. In float32
it also says how much of each library's step is matrix products (`torch.profiler`, two steps) and the rate they
run at, against the same peak: a step spent in matrix products at the peak cannot be made faster without doing
less arithmetic.

    python benchmarks/train_throughput.py [--quick] [--save]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, gemm_peak_flops, median  # noqa: E402

from gpt_course import GPT, GPTConfig  # noqa: E402
from gpt_course.hub import to_hf  # noqa: E402
from gpt_course.utils import cpu_has_bf16_units  # noqa: E402

SIZES = {  # name: (n_layer, n_embd, n_head, block_size, vocab, batch)
    "0.8M": (4, 128, 4, 64, 256, 12),
    "course 2.2M": (4, 192, 6, 96, 2048, 32),
    "12M": (6, 384, 6, 256, 4096, 8),
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def step_time(model, forward, x, y, optimizer, dtype=torch.float32) -> float:
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
        loss = forward(model, x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - t0


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")  # flash attention's own products excluded


def matmul_time(model, forward, x, y, optimizer, steps: int = 2) -> tuple[float, float]:
    """(seconds a step spends in matrix products, their FLOP/s), from `torch.profiler`, which counts their FLOPs.
    Only the products are read from the profile: it slows small element-wise operators, so their times are not."""
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        for _ in range(steps):
            step_time(model, forward, x, y, optimizer)
    mm = [e for e in prof.key_averages() if e.key in MATMUL_OPS]
    seconds = sum(e.self_cpu_time_total for e in mm) / 1e6  # microseconds -> seconds
    return seconds / steps, sum(e.flops for e in mm) / seconds


def measure(size: str, steps: int, warmup: int, dtype: torch.dtype = torch.float32, compiled: bool = False) -> dict:
    n_layer, n_embd, n_head, block, vocab, batch = SIZES[size]
    torch.manual_seed(0)
    ours = GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=n_layer, n_head=n_head, n_embd=n_embd))
    theirs = to_hf(ours)  # identical weights and config
    ours.train(), theirs.train()
    opt_ours = torch.optim.AdamW(ours.parameters(), lr=1e-4)
    opt_theirs = torch.optim.AdamW(theirs.parameters(), lr=1e-4)
    fwd_ours = lambda m, x, y: m(x, y)[1]  # noqa: E731
    fwd_theirs = lambda m, x, y: m(input_ids=x, labels=x).loss  # noqa: E731  (HF shifts labels itself)
    if compiled:
        ours_compiled = torch.compile(ours)
        fwd_ours = lambda m, x, y: ours_compiled(x, y)[1]  # noqa: E731
    gen = torch.Generator().manual_seed(0)
    t_ours, t_theirs = [], []
    for i in range(warmup + steps):
        x = torch.randint(0, vocab, (batch, block), generator=gen)
        y = torch.roll(x, -1, dims=1)
        a = step_time(ours, fwd_ours, x, y, opt_ours, dtype)
        b = step_time(theirs, fwd_theirs, x, y, opt_theirs, dtype)
        if i >= warmup:
            t_ours.append(a)
            t_theirs.append(b)
    tokens = batch * block
    n_params = ours.num_parameters()
    step_ours, step_theirs = median(t_ours), median(t_theirs)
    ours_tps, theirs_tps = tokens / step_ours, tokens / step_theirs
    peak = gemm_peak_flops(dtype=dtype)
    where = {}
    if dtype == torch.float32 and not compiled:  # the share of the (unprofiled, median) step in matrix products
        where = {"matmul": {}}
        for name, model, forward, opt, step in (("gpt_course", ours, fwd_ours, opt_ours, step_ours),
                                                ("transformers", theirs, fwd_theirs, opt_theirs, step_theirs)):
            seconds, flops = matmul_time(model, forward, x, y, opt)
            where["matmul"][name] = {"ms_per_step": round(seconds * 1e3, 1), "step_ms": round(step * 1e3, 1),
                                     "share_of_step": round(seconds / step, 3),
                                     "gflops": round(flops / 1e9, 1), "of_gemm_peak": round(flops / peak, 3)}
    return {
        "parameters": n_params,
        "config": dict(n_layer=n_layer, n_embd=n_embd, n_head=n_head, block_size=block, vocab=vocab, batch=batch),
        "timed_steps": steps,
        "gpt_course_tokens_per_s": round(ours_tps),
        "transformers_tokens_per_s": round(theirs_tps),
        "ratio": round(ours_tps / theirs_tps, 3),
        "gemm_peak_gflops": round(peak / 1e9, 1),
        "model_flop_utilisation": round(6 * n_params * ours_tps / peak, 3),
        **where,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small size only, few steps (under a minute)")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/train_throughput.json")
    args = parser.parse_args()
    sizes = ["0.8M"] if args.quick else list(SIZES)
    steps, warmup = (5, 2) if args.quick else (12, 3)
    results = {name: {size: measure(size, steps, warmup, dtype) for size in sizes} for name, dtype in DTYPES.items()
               if dtype == torch.float32 or cpu_has_bf16_units() or args.quick}
    if "bfloat16" not in results:  # emulated: more than ten times slower; the smaller sizes, fewer steps, say enough
        results["bfloat16"] = {size: measure(size, 3, 1, torch.bfloat16) for size in sizes if size != "12M"}
        results["bfloat16"]["12M"] = {"skipped": "this CPU has no bfloat16 units: every product is emulated"}
    extra = {}
    if not args.quick:
        try:
            extra["compiled_course_float32"] = measure("course 2.2M", steps, warmup + 3, compiled=True)
        except Exception as err:  # no C++ compiler, or an unsupported platform: say so
            extra["compiled_course_float32"] = {"error": f"{type(err).__name__}: {str(err)[:200]}"}
    emit("train_throughput", {"mode": "quick" if args.quick else "full",
                              "bf16_matrix_units": cpu_has_bf16_units(),
                              "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                              "precision": results, **extra}, args.save)


if __name__ == "__main__":
    main()
