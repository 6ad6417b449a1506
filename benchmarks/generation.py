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


SIZES = {  # name: (n_layer, n_embd, n_head, vocab); context 512, long enough for the prompt + 256 tokens
    "course (2.3M)": (4, 192, 6, 2048),   # the course model's shape: small, so per-token overhead dominates
    "12M": (6, 384, 6, 4096),             # the training benchmark's larger size
}


@torch.no_grad()
def measure(shape, new_tokens: int, repeats: int) -> dict:
    n_layer, n_embd, n_head, vocab = shape
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vocab, block_size=512, n_layer=n_layer, n_head=n_head, n_embd=n_embd)).eval()
    hf = to_hf(model).eval()
    prompt = torch.randint(0, vocab, (1, 16), generator=torch.Generator().manual_seed(1))
    greedy = dict(max_new_tokens=new_tokens, temperature=0)
    t_cache, out_cache = timed(lambda: generate(model, prompt, use_cache=True, **greedy), repeats)
    t_plain, out_plain = timed(lambda: generate(model, prompt, use_cache=False, **greedy), repeats)
    t_hf, out_hf = timed(lambda: hf.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                                             max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                             use_cache=True, pad_token_id=0), repeats)
    return {
        "parameters": model.num_parameters(),
        "tokens_per_s": {"gpt_course_cache": round(new_tokens / t_cache, 1),
                         "gpt_course_no_cache": round(new_tokens / t_plain, 1),
                         "transformers_generate_cache": round(new_tokens / t_hf, 1)},
        "cache_speedup": round(t_plain / t_cache, 2),
        "ratio_vs_transformers": round(t_hf / t_cache, 2),
        "greedy_identical": {"cache_vs_no_cache": bool(torch.equal(out_cache, out_plain)),
                             "vs_transformers": bool(torch.equal(out_cache, out_hf))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="64 new tokens, one repeat, course size (under a minute)")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/generation.json")
    args = parser.parse_args()
    new_tokens, repeats = (64, 1) if args.quick else (256, 5)
    sizes = ["course (2.3M)"] if args.quick else list(SIZES)
    emit("generation", {"mode": "quick" if args.quick else "full", "new_tokens": new_tokens, "batch": 1,
                        "repeats": repeats, "sizes": {n: measure(SIZES[n], new_tokens, repeats) for n in sizes}},
         args.save)


if __name__ == "__main__":
    main()
