"""Generation speed: 256 new tokens, batch 1, greedy — gpt_course with its KV cache, without it, and
transformers' own `generate` (with its cache) on the converted model. Greedy outputs must agree.

    python benchmarks/generation.py [--quick] [--save]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, median  # noqa: E402

from gpt_course import GPT, GPTConfig, generate  # noqa: E402
from gpt_course.hub import to_hf  # noqa: E402


def timed(fn, repeats: int) -> tuple[float, torch.Tensor]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return median(times), out


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="64 new tokens, one repeat (under a minute)")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/generation.json")
    args = parser.parse_args()
    new_tokens, repeats = (64, 1) if args.quick else (256, 5)
    torch.manual_seed(0)
    # the course model's shape (4 x 192, BPE 2048) with a context long enough for prompt + 256 tokens
    model = GPT(GPTConfig(vocab_size=2048, block_size=512, n_layer=4, n_head=6, n_embd=192)).eval()
    hf = to_hf(model).eval()
    prompt = torch.randint(0, 2048, (1, 16), generator=torch.Generator().manual_seed(1))
    greedy = dict(max_new_tokens=new_tokens, temperature=0)
    t_cache, out_cache = timed(lambda: generate(model, prompt, use_cache=True, **greedy), repeats)
    t_plain, out_plain = timed(lambda: generate(model, prompt, use_cache=False, **greedy), repeats)
    t_hf, out_hf = timed(lambda: hf.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                                             max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                             use_cache=True, pad_token_id=0), repeats)
    emit("generation", {
        "mode": "quick" if args.quick else "full",
        "new_tokens": new_tokens, "batch": 1, "repeats": repeats, "parameters": model.num_parameters(),
        "tokens_per_s": {"gpt_course_cache": round(new_tokens / t_cache, 1),
                         "gpt_course_no_cache": round(new_tokens / t_plain, 1),
                         "transformers_generate_cache": round(new_tokens / t_hf, 1)},
        "cache_speedup": round(t_plain / t_cache, 2),
        "ratio_vs_transformers": round(t_hf / t_cache, 2),
        "greedy_identical": {"cache_vs_no_cache": bool(torch.equal(out_cache, out_plain)),
                             "vs_transformers": bool(torch.equal(out_cache, out_hf))},
    }, args.save)


if __name__ == "__main__":
    main()
