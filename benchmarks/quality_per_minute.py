"""Quality per CPU-minute: the course's few-minute pretraining recipe (`QUICK_RECIPE`, notebook 10's run) and a
nanoGPT-style baseline recipe (4 layers, 128 wide, block 64, batch 12, AdamW lr 1e-3 with cosine decay, no dropout, character level) trained for the
same wall-clock budgets on the WikiText-2 training text, scored in bits per byte on the test split, next to
the best character n-gram baseline (interpolated Kneser-Ney, order chosen on the validation split, 1..8).

The number of steps for a budget is fixed before training from the measured speed of a few warm-up steps,
so that the cosine schedule ends with the budget. The course recipe never runs past its own schedule
(`QUICK_RECIPE.max_steps`): its step count and weight decay were chosen together, and on 1 MB of text
more steps can over-fit (with weight decay 0.1, a 5-minute run stretched to 1,421 steps scored 2.300 bits/byte
against 2.214 for 950 steps), so when the recipe fits the budget it runs as it is and finishes early; a
shorter budget compresses its schedule.

    python benchmarks/quality_per_minute.py [--quick] [--save] [--minutes 1 2 5]
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, median  # noqa: E402

from gpt_course import GPT, GPTConfig, seed_everything  # noqa: E402
from gpt_course.data import get_batch, load_wikitext2  # noqa: E402
from gpt_course.evaluate import bits_per_byte  # noqa: E402
from gpt_course.ngram import fit_ngram_models  # noqa: E402
from gpt_course.pretrain import QUICK_RECIPE  # noqa: E402
from gpt_course.tokenizers import BPETokenizer, CharTokenizer  # noqa: E402
from gpt_course.train import Recipe, TrainConfig, Trainer  # noqa: E402


def steps_for(budget_s: float, model_config: GPTConfig, batch: int, data: torch.Tensor) -> tuple[int, float]:
    """Steps that fit the budget, from the median time of warm-up steps on a throwaway model."""
    probe = GPT(model_config)
    opt = torch.optim.AdamW(probe.parameters(), lr=1e-4)
    gen, times = torch.Generator().manual_seed(0), []
    for _ in range(12):
        x, y = get_batch(data, model_config.block_size, batch, gen)
        t0 = time.perf_counter()
        _, loss = probe(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    step_s = median(times[2:]) * 1.03  # evaluation during training costs about 3%
    return max(10, int(budget_s / step_s)), step_s


def run_recipe(name, tokenizer, model_config, train_config_fn, budget_s, texts, max_steps=None) -> dict:
    seed_everything(1337)
    train_ids = torch.tensor(tokenizer.encode(texts["train"]))
    valid_ids = torch.tensor(tokenizer.encode(texts["valid"]))
    steps, step_s = steps_for(budget_s, model_config, train_config_fn(1).batch_size, train_ids)
    steps_in_budget = steps
    if max_steps is not None:
        steps = min(steps, max_steps)
    seed_everything(1337)
    model = GPT(model_config)
    history = Trainer(model, train_ids, valid_ids, train_config_fn(steps)).fit()
    return {"recipe": name, "budget_s": budget_s, "steps": steps, "steps_in_budget": steps_in_budget,
            "step_ms": round(step_s * 1000, 1),
            "train_s": round(history.elapsed, 1), "parameters": model.num_parameters(),
            "test_bits_per_byte": round(bits_per_byte(model, tokenizer, texts["test"]), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5-second budgets on 50 KB of text (under a minute)")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/quality_per_minute.json")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 2, 5])
    args = parser.parse_args()
    texts = {split: load_wikitext2(split) for split in ("train", "valid", "test")}
    budgets = [m * 60 for m in args.minutes]
    recipe: Recipe = QUICK_RECIPE
    if args.quick:
        texts = {k: v[:50_000] for k, v in texts.items()}
        budgets = [5.0]
        recipe = Recipe(replace(recipe.model, vocab_size=512, n_layer=2, n_embd=96, n_head=4),
                        replace(recipe.train, warmup_steps=5))

    t0 = time.perf_counter()
    orders = range(1, 9) if not args.quick else range(1, 5)
    kneser_ney = fit_ngram_models(texts["train"], orders)            # n-grams counted once, one model per order
    valid_bits = {n: lm.bits_per_char(texts["valid"]) for n, lm in kneser_ney.items()}
    best_order = min(valid_bits, key=valid_bits.get)
    ngram = kneser_ney[best_order]
    baseline = {"model": f"char {best_order}-gram, interpolated modified Kneser-Ney (order chosen on valid)",
                "test_bits_per_byte": round(ngram.bits_per_byte(texts["test"]), 4),
                "valid_bits_per_char_by_order": {k: round(v, 4) for k, v in valid_bits.items()},
                "seconds": round(time.perf_counter() - t0, 1)}

    bpe = BPETokenizer.train(texts["train"], recipe.model.vocab_size)
    chars = CharTokenizer.from_text(texts["train"] + texts["valid"] + texts["test"])
    nano_config = GPTConfig(vocab_size=chars.vocab_size, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0)

    def nano_train(steps: int) -> TrainConfig:
        return TrainConfig(max_steps=steps, batch_size=12, lr=1e-3, warmup_steps=min(100, steps // 10),
                           weight_decay=0.1, eval_interval=max(1, steps // 5), eval_iters=5, progress=False)

    def course_train(steps: int) -> TrainConfig:
        return replace(recipe.train, max_steps=steps, eval_interval=max(1, steps // 5), eval_iters=5,
                       warmup_steps=min(recipe.train.warmup_steps, steps // 10), progress=False)

    runs = []
    for budget in budgets:
        runs.append(run_recipe("course", bpe, recipe.model, course_train, budget, texts, recipe.train.max_steps))
        runs.append(run_recipe("nanogpt_style", chars, nano_config, nano_train, budget, texts))
    emit("quality_per_minute", {
        "mode": "quick" if args.quick else "full",
        "data_bytes": {k: len(v.encode()) for k, v in texts.items()},
        "course_recipe": asdict(recipe),
        "ngram_baseline": baseline,
        "runs": runs,
    }, args.save)


if __name__ == "__main__":
    main()
