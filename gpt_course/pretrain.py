"""The course's pretraining run.

    python -m gpt_course.pretrain                  # the course recipe on WikiText-2 (about 45 minutes, 2 cores)
    python -m gpt_course.pretrain --recipe quick --out runs/quick.safetensors   # notebook 10's few-minute run
    python -m gpt_course.pretrain --first-stage runs/stage1.safetensors --out runs/course.safetensors
                                                   # only the second stage (copying practice), from a first stage
                                                   # made with --recipe first-stage

writes `data/checkpoints/course_gpt.safetensors` with the tokenizer, the training history and the measured
figures; `gpt_course.load_course_model()` returns it as `(model, tokenizer)`, training it first if it is missing.
A run saves its full training state every tenth of the way; stopped (Ctrl-C) or killed, the same command with
`--resume` continues it exactly.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from .checkpoint import History, checkpoint_path, load_checkpoint, save_checkpoint
from .data import load_wikitext2
from .model import GPT, GPTConfig
from .tokenizers import BPETokenizer, Tokenizer
from .train import CopyPractice, Recipe, TrainConfig, Trainer
from .utils import default_device, seed_everything

# The course model, the checkpoint notebooks 11-20 start from: tokenizer, shape and schedule chosen by measurement
# (notebook 10 tells how). RoPE positions, a 128-token window and dropout 0.15 let it train for many passes over
# the 1 MB of text without learning it by heart; a second stage teaches it to copy from its window. About 45
# minutes on two idle CPU cores.
COURSE_RECIPE = Recipe(
    model=GPTConfig(vocab_size=2048, block_size=128, n_layer=4, n_head=6, n_embd=192, dropout=0.15,
                    pos_encoding="rope"),
    train=TrainConfig(max_steps=3300, batch_size=24, lr=3e-3, warmup_steps=100, weight_decay=1.0, optimizer="adamw",
                      eval_interval=250, eval_iters=10, seed=1337),
    # Then copying practice: 12 windows of every 24 are runs of random tokens of the text read again and again
    # (notebook 10, section 10.10, point 7).
    practice=CopyPractice(TrainConfig(max_steps=1200, batch_size=24, lr=2e-3, warmup_steps=20, weight_decay=0.1,
                                      eval_interval=120, eval_iters=10, seed=3), random_rows=12),
)

# Notebook 10's own run: the same tokenizer and model shape, a few minutes of training (no dropout: a short run
# does not reach the point where the model learns the text by heart), one stage.
QUICK_RECIPE = Recipe(
    model=replace(COURSE_RECIPE.model, dropout=0.0),
    train=replace(COURSE_RECIPE.train, max_steps=800, warmup_steps=50, eval_interval=80),
)
RECIPES = {"course": COURSE_RECIPE, "quick": QUICK_RECIPE, "first-stage": replace(COURSE_RECIPE, practice=None)}


def _beside(out: str | os.PathLike, tag: str) -> Path:
    out = Path(out)
    return out.with_name(f"{out.stem}.{tag}{out.suffix}")


def state_path(out: str | os.PathLike) -> Path:
    """Where a run writing `out` keeps its resumable training state (next to it, `.state` added)."""
    return _beside(out, "state")


def estimate_seconds(recipe: Recipe) -> float:
    """Seconds the recipe's training will take here, from timed steps of a throwaway model of its shape
    (run before seeding, so it changes nothing in the run itself)."""
    from .doctor import time_training_step

    step = time_training_step(recipe.model, batch_size=recipe.train.batch_size)
    steps = recipe.train.max_steps
    if recipe.practice is not None:  # the same shape and batch: the same time per step
        steps += recipe.practice.train.max_steps * recipe.practice.train.batch_size / recipe.train.batch_size
    return step * steps * 1.05  # validation adds about 5 %


class ValidBitsPerByte:
    """Trainer callback: bits per byte on the whole validation text every `every` steps, into
    `history.metrics["valid_bits_per_byte"]` as [step, training seconds, bits per byte] (saved with the state)."""

    def __init__(self, tokenizer, text: str, every: int):
        self.tokenizer, self.text, self.every = tokenizer, text, every

    def on_step(self, trainer) -> None:
        if trainer.step % self.every == 0 or trainer.step == trainer.config.max_steps:
            from .evaluate import bits_per_byte

            curve = trainer.history.metrics.setdefault("valid_bits_per_byte", [])
            curve.append([trainer.step, round(trainer.history.elapsed, 1),
                          round(bits_per_byte(trainer.model, self.tokenizer, self.text), 4)])


def duration(seconds: float) -> str:
    """'40 seconds', '4 minutes', '1.2 hours': how long, in words a person plans with."""
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    return f"{seconds / 60:.0f} minutes" if seconds < 5400 else f"{seconds / 3600:.1f} hours"


def stage1_path(out: str | os.PathLike) -> Path:
    """Where a two-stage run keeps its first stage's model while the second stage (copying practice) runs."""
    return _beside(out, "stage1")


def practice_state_path(out: str | os.PathLike) -> Path:
    """Where a two-stage run keeps the second stage's resumable training state."""
    return _beside(out, "practice-state")


def in_progress(out: str | os.PathLike) -> bool:
    """Whether a stopped run writing `out` left something to resume."""
    return any(p.exists() for p in (state_path(out), stage1_path(out), practice_state_path(out)))


def _joined(first: History, second: History) -> History:
    """One history for a two-stage run: the second stage's steps and seconds counted on from the first's."""
    steps, seconds = first.steps[-1] if first.steps else 0, first.elapsed
    metrics = {name: [list(row) for row in rows] for name, rows in first.metrics.items()}
    for name, rows in second.metrics.items():
        metrics.setdefault(name, []).extend([s + steps, round(t + seconds, 1), v] for s, t, v in rows)
    return History(
        steps=first.steps + [s + steps for s in second.steps], train_loss=first.train_loss + second.train_loss,
        lr=first.lr + second.lr, val_steps=first.val_steps + [s + steps for s in second.val_steps],
        val_loss=first.val_loss + second.val_loss, tokens_per_sec=first.tokens_per_sec + second.tokens_per_sec,
        elapsed=first.elapsed + second.elapsed, metrics=metrics)


def pretrain(recipe: Recipe = COURSE_RECIPE, out: str | os.PathLike | None = None, evaluate_test: bool = True,
             progress: bool = True, callbacks=(), resume: bool = False,
             first_stage: str | os.PathLike | None = None) -> tuple[GPT, Tokenizer, dict]:
    """Train the recipe on WikiText-2 train, report validation/test bits per byte, save the checkpoint.

    The training state is saved every tenth of the run next to `out` (`state_path(out)`); with `resume`, a run
    continues from there, and gives the same model as an uninterrupted one. A recipe with `practice` trains a
    second stage from the first stage's model (kept at `stage1_path(out)` until the end); `first_stage` names a
    finished first-stage checkpoint of this recipe (one written without the practice stage) to start the second
    stage from instead of training the first again."""
    from .evaluate import bits_per_byte

    out = Path(out) if out is not None else checkpoint_path()
    state, stage1, practice_state = state_path(out), stage1_path(out), practice_state_path(out)
    if resume and not in_progress(out):
        raise FileNotFoundError(f"nothing to resume: no training state at {state} (start the run without --resume)")
    if first_stage is not None and recipe.practice is None:
        raise ValueError("first_stage is only for a recipe with a practice stage (Recipe.practice)")
    seed_everything(recipe.train.seed)
    train_text, valid_text = load_wikitext2("train"), load_wikitext2("valid")
    t0 = time.perf_counter()
    tokenizer = BPETokenizer.train(train_text, recipe.model.vocab_size)
    tokenizer_seconds = time.perf_counter() - t0
    train_ids = torch.tensor(tokenizer.encode(train_text), dtype=torch.long)
    valid_ids = torch.tensor(tokenizer.encode(valid_text), dtype=torch.long)
    first_figures: dict = {}
    if first_stage is not None:  # a finished first stage made elsewhere: check that it is this recipe's
        saved = load_checkpoint(first_stage)
        made_by = saved.extra.get("recipe", {})
        if (made_by.get("model") != asdict(recipe.model) or made_by.get("train") != asdict(recipe.train)
                or saved.tokenizer is None or saved.tokenizer.merges != tokenizer.merges
                or saved.step != recipe.train.max_steps):
            raise ValueError(f"{first_stage} is not a finished first stage of this recipe (its recorded recipe, "
                             "tokenizer or step count differ): train the first stage with this recipe instead")
        model, history, first_figures = saved.model.to(default_device()), saved.history, saved.extra.get("figures", {})
    elif resume and stage1.exists():  # the first stage is done: the second continues below
        saved = load_checkpoint(stage1)
        model, history = saved.model.to(default_device()), saved.history
    else:
        model, history = _train_stage(recipe.model, recipe.train, train_ids, valid_ids, tokenizer, valid_text, state,
                                      callbacks, progress, resume)
        if recipe.practice is not None:  # keep the first stage's model until the whole run is done
            save_checkpoint(stage1, model, tokenizer=tokenizer, step=recipe.train.max_steps, history=history,
                            extra={"recipe": {"model": asdict(recipe.model), "train": asdict(recipe.train)}})
            state.unlink(missing_ok=True)
    if recipe.practice is not None:
        model, second = _train_stage(recipe.model, recipe.practice.train, train_ids, valid_ids, tokenizer, valid_text,
                                     practice_state, callbacks, progress, resume and practice_state.exists(),
                                     start=model, practice=recipe.practice)
        history = _joined(history, second)
    stages = [recipe.train, *([recipe.practice.train] if recipe.practice else [])]
    steps = sum(t.max_steps for t in stages)
    tokens = sum(t.max_steps * t.batch_size for t in stages)
    figures = {
        "train_seconds": round(history.elapsed, 1),
        "tokenizer_seconds": round(tokenizer_seconds, 1),
        "parameters": model.num_parameters(),
        "train_bytes": len(train_text.encode("utf-8")),
        "tokens_seen": tokens * recipe.model.block_size,
        "valid_bits_per_byte": round(bits_per_byte(model, tokenizer, valid_text), 4),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],  # other work slows the timing above
    }
    if recipe.practice is not None:
        figures["stages"] = [
            {"name": "next-token prediction", "steps": recipe.train.max_steps,
             "train_seconds": round(history.elapsed - second.elapsed, 1),
             **({"made_by": f"an earlier run: {first_figures['note']}"} if first_figures.get("note") else {}),
             **({"threads": first_figures["threads"]} if "threads" in first_figures else {})},
            {"name": "copying practice", "steps": recipe.practice.train.max_steps,
             "train_seconds": round(second.elapsed, 1), "threads": torch.get_num_threads()}]
    if evaluate_test:
        figures["test_bits_per_byte"] = round(bits_per_byte(model, tokenizer, load_wikitext2("test")), 4)
    save_checkpoint(  # weights only (no optimizer state) keeps the shipped file small
        out, model, tokenizer=tokenizer, step=steps, history=history,
        extra={"recipe": asdict(recipe), "figures": figures})
    for leftover in (state, stage1, practice_state):
        leftover.unlink(missing_ok=True)
    return model, tokenizer, figures


def _train_stage(model_config, train_config, train_ids, valid_ids, tokenizer, valid_text, state, callbacks, progress,
                 resume, start=None, practice=None):
    """One stage of a run: from `start` (or a new model, or the state at `state` when resuming) to the config's last
    step, saving the state every tenth of the way. Returns the model and the stage's history."""
    every = max(1, train_config.max_steps // 10)
    config = replace(train_config, progress=progress, checkpoint_path=str(state), checkpoint_interval=every)
    callbacks = [ValidBitsPerByte(tokenizer, valid_text, every), *callbacks]
    if resume:
        saved = load_checkpoint(state)
        if saved.tokenizer is None or saved.tokenizer.merges != tokenizer.merges or saved.model.config != model_config:
            raise ValueError(f"{state} was written by a different recipe; delete it or choose another --out")
        trainer = Trainer.resume(state, train_ids, valid_ids, callbacks, progress=progress)
        model = trainer.model.to(default_device())
    else:
        model = start if start is not None else GPT(model_config).to(default_device())
        trainer = Trainer(model, train_ids, valid_ids, config, tokenizer, callbacks,
                          desc="copying practice" if practice is not None else "training")
    if practice is not None:
        trainer.loss_fn = practice.loss_fn(trainer)
    history = trainer.fit()
    if history.interrupted:
        raise KeyboardInterrupt(f"training stopped at step {trainer.step}; its state is in {state}: run again with "
                                "resume=True (--resume) to continue")
    return model, history


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="course",
                        help="course: the shipped checkpoint's recipe (default); quick: notebook 10's few-minute run; "
                             "first-stage: the course recipe without its copying practice")
    parser.add_argument("--out", default=None, help=f"where to write the checkpoint (default {checkpoint_path()})")
    parser.add_argument("--steps", type=int, default=None,
                        help="override the recipe's number of steps (validation every tenth of them)")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="override fields of the model or training config, e.g. --set optimizer=muon dropout=0.1 "
                             "lr=0.002")
    parser.add_argument("--resume", action="store_true", help="continue a stopped run from its saved state")
    parser.add_argument("--no-test", action="store_true", help="skip the test-split evaluation")
    parser.add_argument("--first-stage", default=None, metavar="PATH",
                        help="a finished first stage of this recipe (e.g. a checkpoint written before the copying "
                             "practice stage existed): train only the second stage from it")
    args = parser.parse_args(argv)
    base = RECIPES[args.recipe]
    model, train = asdict(base.model), asdict(base.train)
    if args.steps is not None:
        train.update(max_steps=args.steps, eval_interval=max(1, args.steps // 10))
    settable = [k for k, v in {**model, **train}.items() if v is not None]
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or key not in settable:
            parser.error(f"--set expects FIELD=VALUE with FIELD one of {', '.join(settable)}; got {item!r}")
        part = model if key in model else train
        kind = type(part[key])
        try:
            part[key] = value.lower() in ("1", "true") if kind is bool else kind(value)
        except ValueError:
            parser.error(f"--set {key}: {value!r} is not a valid {kind.__name__}")
    try:
        recipe = Recipe(GPTConfig(**model), TrainConfig(**train), base.practice)
    except ValueError as err:
        parser.error(str(err))
    if recipe != COURSE_RECIPE and args.out is None:
        parser.error("a changed recipe needs --out (the default path holds the shipped course checkpoint)")
    if not args.resume:
        print(f"training: about {duration(estimate_seconds(recipe))} on this machine ({torch.get_num_threads()} "
              "threads); Ctrl-C stops it and --resume continues", flush=True)
    try:
        _, _, figures = pretrain(recipe, args.out, evaluate_test=not args.no_test, resume=args.resume,
                                 **({"first_stage": args.first_stage} if args.first_stage else {}))
    except KeyboardInterrupt as stop:
        raise SystemExit(str(stop) or "stopped") from None
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
