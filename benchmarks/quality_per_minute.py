"""Quality per CPU-minute, and where the GPT overtakes the n-gram model (notebook 10, section 10.11).

Against **training minutes**: for each budget the course's recipe for that budget is trained from scratch on the
WikiText-2 training text and scored in bits per byte on the test split, next to the best character n-gram model
(interpolated Kneser-Ney, order 1..8 chosen on the validation split):

* `quick`: `QUICK_RECIPE`, notebook 10's run. It never runs past its own 800 steps (its step count and weight
  decay were chosen together; on 1 MB of text more steps over-fit: with weight decay 0.1 a 5-minute run stretched
  to 1,421 steps scored 2.300 bits/byte against 2.214 for 950 steps), so a shorter budget compresses its schedule
  and a budget that holds all 800 steps is left to the next recipe;
* `long`: the first stage of `COURSE_RECIPE` (dropout 0.15, made for many passes over the text), its step count
  set by the budget;
* `nanogpt_style`: a character-level nanoGPT-style recipe (4 layers, 128 wide, block 64, batch 12, AdamW lr 1e-3
  with cosine decay, no dropout) for comparison.

Against **training-text size**: the first 1/8, 1/4, 1/2 and all of the training split (whole articles), each
with its own BPE tokenizer, fitted by the Kneser-Ney models (order chosen on valid) and by the quick recipe with
a 5-minute budget.

A budget is minutes of training on this machine's idle cores: the step count is fixed before training from the
median time of warm-up steps of the same model (plus 3 % for evaluation), so that the schedule ends with the
budget. `--checkpoints PATH ...` scores finished runs of the course recipe (the shipped file, a first stage) and
places them at the minutes their steps take at the long recipe's step time. `--step-ms quick=443 ...` gives the
step times instead (measured once, idle), so that several budgets can run side by side, one thread each, and still
mean the same minutes; every run records its own seconds and threads.
`--save` merges the runs into benchmarks/results/quality_per_minute.json (a run with the same recipe, budget and
text size is replaced), so budgets can be measured by separate processes.

    python benchmarks/quality_per_minute.py [--quick] [--save] [--minutes 1 2 5 15 30 60]
        [--recipes quick long nanogpt_style] [--sizes 0.125 0.25 0.5 1] [--checkpoints PATH ...]
        [--step-ms quick=443 long=649 nanogpt_style=52.4]
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, median  # noqa: E402

from gpt_course import GPT, GPTConfig, seed_everything  # noqa: E402
from gpt_course.checkpoint import load_checkpoint  # noqa: E402
from gpt_course.data import get_batch, load_wikitext2, split_articles  # noqa: E402
from gpt_course.evaluate import bits_per_byte  # noqa: E402
from gpt_course.ngram import fit_ngram_models  # noqa: E402
from gpt_course.pretrain import QUICK_RECIPE, RECIPES  # noqa: E402
from gpt_course.tokenizers import BPETokenizer, CharTokenizer  # noqa: E402
from gpt_course.train import Recipe, TrainConfig, Trainer  # noqa: E402

SIZE_BUDGET_MINUTES = 5  # the text-size comparison gives the GPT notebook 10's budget


def step_seconds(model_config: GPTConfig, batch: int, data: torch.Tensor) -> float:
    """Seconds per training step of this model: the median of 10 timed steps of a throwaway model after 2 warm-up
    steps, plus 3 % for the evaluation during training."""
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
    return median(times[2:]) * 1.03


def first_part(text: str, fraction: float) -> str:
    """The first whole articles of `text` that make up `fraction` of its bytes (at least one article)."""
    if fraction >= 1:
        return text
    target, kept, size = len(text.encode("utf-8")) * fraction, [], 0
    for article in split_articles(text):
        if kept and size + len(article.encode("utf-8")) / 2 > target:
            break
        kept.append(article)
        size += len(article.encode("utf-8"))
    return "".join(kept)


def ngram_baseline(train: str, texts: dict, orders) -> dict:
    t0 = time.perf_counter()
    kneser_ney = fit_ngram_models(train, orders)            # n-grams counted once, one model per order
    valid_bits = {n: lm.bits_per_char(texts["valid"]) for n, lm in kneser_ney.items()}
    best_order = min(valid_bits, key=valid_bits.get)
    return {"model": f"char {best_order}-gram, interpolated modified Kneser-Ney (order chosen on valid)",
            "order": best_order,
            "test_bits_per_byte": round(kneser_ney[best_order].bits_per_byte(texts["test"]), 4),
            "valid_bits_per_char_by_order": {k: round(v, 4) for k, v in valid_bits.items()},
            "seconds": round(time.perf_counter() - t0, 1)}


def train_and_score(name: str, tokenizer, recipe: Recipe, steps: int, train: str, texts: dict, extra: dict) -> dict:
    seed_everything(recipe.train.seed)
    train_ids = torch.tensor(tokenizer.encode(train))
    valid_ids = torch.tensor(tokenizer.encode(texts["valid"]))
    config = replace(recipe.train, max_steps=steps, eval_interval=max(1, steps // 5), eval_iters=5,
                     warmup_steps=min(recipe.train.warmup_steps, steps // 10), progress=False)
    seed_everything(recipe.train.seed)
    model = GPT(recipe.model)
    history = Trainer(model, train_ids, valid_ids, config).fit()
    return {"recipe": name, **extra, "steps": steps, "train_s": round(history.elapsed, 1),
            "threads": torch.get_num_threads(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "parameters": model.num_parameters(),
            "test_bits_per_byte": round(bits_per_byte(model, tokenizer, texts["test"]), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1- and 6-second budgets and two text sizes, on 50 KB of text (a minute)")
    parser.add_argument("--save", action="store_true", help="merge into benchmarks/results/quality_per_minute.json")
    parser.add_argument("--minutes", type=float, nargs="*", default=[1, 2, 5, 15, 30, 60])
    parser.add_argument("--recipes", nargs="+", choices=("quick", "long", "nanogpt_style"),
                        default=["quick", "long", "nanogpt_style"])
    parser.add_argument("--sizes", type=float, nargs="*", default=[],
                        help="fractions of the training text for the text-size comparison (e.g. 0.125 0.25 0.5 1)")
    parser.add_argument("--checkpoints", nargs="*", default=[], metavar="PATH",
                        help="finished runs of the course recipe to score and place at the minutes their steps take")
    parser.add_argument("--step-ms", nargs="+", default=[], metavar="RECIPE=MS",
                        help="milliseconds per step, measured beforehand, instead of timing warm-up steps here")
    args = parser.parse_args()
    if args.save and args.quick:
        parser.error("--quick runs are not the figures: they are never saved")
    given_ms = {}
    for item in args.step_ms:
        name, _, ms = item.partition("=")
        if name not in ("quick", "long", "nanogpt_style") or not ms.replace(".", "", 1).isdigit():
            parser.error(f"--step-ms takes RECIPE=MILLISECONDS with RECIPE quick, long or nanogpt_style; got {item!r}")
        given_ms[name] = float(ms)
    if any(not 0 < f <= 1 for f in args.sizes):
        parser.error("--sizes are fractions of the training text, above 0 and at most 1")

    texts = {split: load_wikitext2(split) for split in ("train", "valid", "test")}
    quick, long = QUICK_RECIPE, RECIPES["first-stage"]
    orders = range(1, 9)
    if args.quick:
        texts = {k: v[:50_000] for k, v in texts.items()}
        args.minutes = [0.02, 0.1]
        args.sizes = args.sizes or [0.5, 1]
        small = {"vocab_size": 512, "n_layer": 2, "n_embd": 96, "n_head": 4}
        quick = Recipe(replace(quick.model, **small), replace(quick.train, warmup_steps=5))
        long = Recipe(replace(long.model, **small), replace(long.train, warmup_steps=5))
        orders = range(1, 5)

    bpe = BPETokenizer.train(texts["train"], quick.model.vocab_size)
    train_ids = torch.tensor(bpe.encode(texts["train"]))
    chars = CharTokenizer.from_text(texts["train"] + texts["valid"] + texts["test"])
    nano = Recipe(GPTConfig(vocab_size=chars.vocab_size, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0),
                  TrainConfig(max_steps=1, batch_size=12, lr=1e-3, warmup_steps=100, weight_decay=0.1, seed=1337))
    recipes = {"quick": (quick, bpe), "long": (long, bpe), "nanogpt_style": (nano, chars)}

    step_ms = {}
    for name, (recipe, tokenizer) in recipes.items():
        if name in given_ms:
            step_ms[name] = {"ms": given_ms[name], "measured": "given (--step-ms)"}
        elif name in args.recipes or (name == "quick" and args.sizes) or (name == "long" and args.checkpoints):
            data = train_ids if tokenizer is bpe else torch.tensor(chars.encode(texts["train"]))
            with torch.random.fork_rng(devices=[]):
                ms = step_seconds(recipe.model, recipe.train.batch_size, data) * 1000
            step_ms[name] = {"ms": round(ms, 1), "measured": f"here, {torch.get_num_threads()} threads"}

    def steps_in(name: str, minutes: float) -> int:
        return max(10, int(minutes * 60_000 / step_ms[name]["ms"]))

    if args.quick:  # the shorter budget compresses the small quick recipe, the longer one goes to the long recipe
        quick = replace(quick, train=replace(quick.train, max_steps=steps_in("quick", 0.05)))
        recipes["quick"] = (quick, bpe)

    baseline = ngram_baseline(texts["train"], texts, orders)
    runs = []
    for minutes in args.minutes:
        budget = {"budget_minutes": minutes, "train_fraction": 1.0}
        if "quick" in args.recipes and steps_in("quick", minutes) < quick.train.max_steps:
            runs.append(train_and_score("quick", bpe, quick, steps_in("quick", minutes), texts["train"], texts, budget))
        if "long" in args.recipes and steps_in("quick", minutes) >= quick.train.max_steps:
            runs.append(train_and_score("long", bpe, long, steps_in("long", minutes), texts["train"], texts, budget))
        if "nanogpt_style" in args.recipes:
            runs.append(train_and_score("nanogpt_style", chars, nano, steps_in("nanogpt_style", minutes),
                                        texts["train"], texts, budget))

    sizes = []
    size_minutes = SIZE_BUDGET_MINUTES if not args.quick else 0.02
    for fraction in args.sizes:
        part = first_part(texts["train"], fraction)
        row = {"train_fraction": fraction, "train_bytes": len(part.encode("utf-8")),
               "ngram": baseline if fraction == 1 else ngram_baseline(part, texts, orders)}
        same = [r for r in runs if r["recipe"] == "quick" and r["budget_minutes"] == size_minutes]
        if fraction == 1 and same:  # the whole text at this budget: the run above
            row["gpt"] = same[0]
        else:
            tokenizer = bpe if fraction == 1 else BPETokenizer.train(part, quick.model.vocab_size)
            steps = min(quick.train.max_steps, steps_in("quick", size_minutes))
            row["gpt"] = train_and_score("quick", tokenizer, quick, steps, part, texts,
                                         {"budget_minutes": size_minutes, "train_fraction": fraction})
        sizes.append(row)

    checkpoints = []
    for path in args.checkpoints:  # the course recipe as it is: its shape and batch, so the long recipe's step time
        saved = load_checkpoint(path)
        made_by = saved.extra.get("recipe", {})
        if made_by.get("model") != json.loads(json.dumps(asdict(RECIPES["course"].model))):
            parser.error(f"{path} was not made with COURSE_RECIPE's model: its minutes cannot be read off its steps")
        stages = "both stages" if made_by.get("practice") else "first stage"
        checkpoints.append({"recipe": f"COURSE_RECIPE, {stages}", "file": Path(path).name, "steps": saved.step,
                            "minutes": round(saved.step * step_ms["long"]["ms"] / 60_000, 1),
                            "test_bits_per_byte": round(bits_per_byte(saved.model, saved.tokenizer, texts["test"]), 4)})

    result = {
        "benchmark": "quality_per_minute",
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "data_bytes": {k: len(v.encode()) for k, v in texts.items()},
        "recipes": {name: asdict(recipe) for name, (recipe, _) in recipes.items()},
        "step_ms": step_ms,
        "ngram_baseline": baseline,
        "runs": runs,
        "sizes": sizes,
        "checkpoints": checkpoints,
    }
    print(json.dumps(result, indent=2))
    if args.save:
        save(result)


def _key(run: dict) -> tuple:
    return run["recipe"], run["budget_minutes"], run["train_fraction"]


def save(result: dict) -> None:
    """Merge into results/quality_per_minute.json: a run of the same recipe, budget and text size replaces the
    saved one; step times are kept per recipe."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "quality_per_minute.json"
    with open(RESULTS / ".quality_per_minute.lock", "w") as lock:  # budgets may be saved from separate processes
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = json.loads(path.read_text()) if path.exists() else {}
        now = json.loads(json.dumps(result))  # as it will read back: tuples as lists, int keys as strings
        same_baseline = all(saved.get("ngram_baseline", {}).get(k) == now["ngram_baseline"][k]
                            for k in ("model", "test_bits_per_byte", "valid_bits_per_char_by_order"))
        if saved.get("recipes") != now["recipes"] or not same_baseline:
            saved = {}  # another recipe or other data: the old runs do not compare
        runs = {_key(r): r for r in saved.get("runs", [])} | {_key(r): r for r in result["runs"]}
        sizes = {r["train_fraction"]: r for r in saved.get("sizes", [])} | {r["train_fraction"]: r for r in result["sizes"]}
        done = {r["recipe"]: r for r in saved.get("checkpoints", [])} | {r["recipe"]: r for r in result["checkpoints"]}
        merged = {**result, "step_ms": {**saved.get("step_ms", {}), **result["step_ms"]},
                  "checkpoints": sorted(done.values(), key=lambda r: r["steps"]),
                  "runs": sorted(runs.values(), key=lambda r: (r["budget_minutes"], r["recipe"])),
                  "sizes": [sizes[f] for f in sorted(sizes)]}
        path.write_text(json.dumps(merged, indent=2) + "\n")


if __name__ == "__main__":
    main()
