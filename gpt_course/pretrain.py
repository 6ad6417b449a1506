"""The course's pretraining recipe and its shipped checkpoint.

    python -m gpt_course.pretrain            # trains the recipe on WikiText-2 (about 3 minutes, 2 CPU cores)

writes `data/checkpoints/course_gpt.safetensors` with the tokenizer, the training history and the measured
figures; `load_course_model()` returns it as `(model, tokenizer)`, training it first if it is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .data import load_wikitext2
from .model import GPT, GPTConfig
from .tokenizers import BPETokenizer, Tokenizer
from .train import TrainConfig, Trainer, load_checkpoint, save_checkpoint
from .utils import default_device, seed_everything

CHECKPOINT_NAME = "course_gpt.safetensors"


@dataclass
class Recipe:
    """Tokenizer, model shape and schedule of the course model (chosen by measurement in notebook 10)."""

    vocab_size: int = 2048
    n_layer: int = 4
    n_head: int = 6
    n_embd: int = 192
    block_size: int = 96
    dropout: float = 0.0
    batch_size: int = 32
    lr: float = 3e-3
    warmup_steps: int = 50
    max_steps: int = 800
    weight_decay: float = 1.0
    optimizer: str = "adamw"
    seed: int = 1337

    def model_config(self) -> GPTConfig:
        return GPTConfig(vocab_size=self.vocab_size, block_size=self.block_size, n_layer=self.n_layer,
                         n_head=self.n_head, n_embd=self.n_embd, dropout=self.dropout)

    def train_config(self, **overrides) -> TrainConfig:
        return TrainConfig(**{"max_steps": self.max_steps, "batch_size": self.batch_size, "lr": self.lr,
                              "warmup_steps": self.warmup_steps, "weight_decay": self.weight_decay,
                              "optimizer": self.optimizer,
                              "eval_interval": max(1, self.max_steps // 10), "eval_iters": 10, "seed": self.seed,
                              **overrides})


COURSE_RECIPE = Recipe()


def checkpoint_path() -> Path:
    """data/checkpoints/ in a source checkout, else the user's cache folder."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").exists():
        return root / "data" / "checkpoints" / CHECKPOINT_NAME
    return Path(os.environ.get("GPT_COURSE_CACHE", Path.home() / ".cache" / "gpt_course")) / CHECKPOINT_NAME


def encode(tokenizer: Tokenizer, text: str) -> torch.Tensor:
    return torch.tensor(tokenizer.encode(text), dtype=torch.long)


def pretrain(recipe: Recipe = COURSE_RECIPE, out: str | os.PathLike | None = None, evaluate_test: bool = True,
             progress: bool = True, callbacks=()) -> tuple[GPT, Tokenizer, dict]:
    """Train the recipe on WikiText-2 train, report validation/test bits per byte, save the checkpoint."""
    from .evaluate import bits_per_byte

    seed_everything(recipe.seed)
    train_text, valid_text = load_wikitext2("train"), load_wikitext2("valid")
    t0 = time.perf_counter()
    tokenizer = BPETokenizer.train(train_text, recipe.vocab_size)
    tokenizer_seconds = time.perf_counter() - t0
    train_ids, valid_ids = encode(tokenizer, train_text), encode(tokenizer, valid_text)
    model = GPT(recipe.model_config()).to(default_device())
    out = Path(out) if out is not None else checkpoint_path()
    trainer = Trainer(model, train_ids, valid_ids, recipe.train_config(progress=progress), tokenizer, callbacks)
    history = trainer.fit()
    figures = {
        "train_seconds": round(history.elapsed, 1),
        "tokenizer_seconds": round(tokenizer_seconds, 1),
        "parameters": model.num_parameters(),
        "train_bytes": len(train_text.encode("utf-8")),
        "tokens_seen": trainer.step * recipe.batch_size * recipe.block_size,
        "valid_bits_per_byte": round(bits_per_byte(model, tokenizer, valid_text), 4),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],  # other work slows the timing above
    }
    if evaluate_test:
        figures["test_bits_per_byte"] = round(bits_per_byte(model, tokenizer, load_wikitext2("test")), 4)
    save_checkpoint(  # weights only (no optimizer state) keeps the shipped file small
        out, model, tokenizer=tokenizer, step=trainer.step, history=history,
                    extra={"recipe": asdict(recipe), "figures": figures})
    return model, tokenizer, figures


def load_course_model(path: str | os.PathLike | None = None, device=None) -> tuple[GPT, Tokenizer]:
    """The pretrained course model and its tokenizer; trains the recipe (about 5 minutes) if it is missing."""
    path = Path(path) if path is not None else checkpoint_path()
    if not path.exists():
        print(f"gpt_course: no course checkpoint at {path}; training the course recipe now (about 5 minutes "
              f"on two CPU cores). It is saved there for next time.")
        pretrain(out=path)
    ckpt = load_checkpoint(path, device=device or default_device())
    ckpt.model.eval()
    return ckpt.model, ckpt.tokenizer


def course_figures(path: str | os.PathLike | None = None) -> dict:
    """The figures measured when the course checkpoint was made (recipe, times, bits per byte)."""
    ckpt = load_checkpoint(Path(path) if path is not None else checkpoint_path())
    return ckpt.extra


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help=f"where to write the checkpoint (default {checkpoint_path()})")
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's number of steps")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="override recipe fields, e.g. --set optimizer=muon dropout=0.1 lr=0.002")
    parser.add_argument("--no-test", action="store_true", help="skip the test-split evaluation")
    args = parser.parse_args(argv)
    fields = asdict(COURSE_RECIPE)
    if args.steps is not None:
        fields["max_steps"] = args.steps
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            parser.error(f"--set expects FIELD=VALUE with FIELD one of {', '.join(fields)}; got {item!r}")
        try:
            fields[key] = type(fields[key])(value)
        except ValueError:
            parser.error(f"--set {key}: {value!r} is not a valid {type(fields[key]).__name__}")
    recipe = Recipe(**fields)
    if recipe != COURSE_RECIPE and args.out is None:
        parser.error("a changed recipe needs --out (the default path holds the shipped course checkpoint)")
    _, _, figures = pretrain(recipe, args.out, evaluate_test=not args.no_test)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
