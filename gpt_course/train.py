"""Training: one loop (`Trainer`) for every objective in the course, one config per run (`Recipe`).

The loop is AdamW (or Muon) with a warm-up + cosine schedule, gradient clipping, a progress bar, a live
history and interrupt-safe checkpoints. What differs between runs is passed in: the loss of a batch
(next-token prediction on a token stream by default), which parameters train (those with requires_grad),
how to validate, and callbacks.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from .checkpoint import History, load_checkpoint, save_checkpoint
from .data import add_copy_rows, get_batch
from .model import GPTConfig
from .utils import choose_precision, evaluating, progress, torch_threads, training_threads

INTERRUPTED_PATH = "runs/interrupted.safetensors"  # where an interrupted next-token run is saved without a path


@dataclass
class TrainConfig:
    """How to train. `min_lr` defaults to lr / 10; checkpoints every `checkpoint_interval` steps if a path is set."""

    max_steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-3
    min_lr: float | None = None
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_interval: int = 100
    eval_iters: int = 20
    checkpoint_path: str | None = None
    checkpoint_interval: int | None = None
    seed: int = 0
    progress: bool = True
    optimizer: str = "adamw"  # or "muon": Muon for the blocks' weight matrices, AdamW for the rest
    precision: str = "auto"  # "float32", "bfloat16" (autocast), or "auto": utils.choose_precision decides

    def __post_init__(self) -> None:
        if self.optimizer not in ("adamw", "muon"):
            raise ValueError(f"optimizer must be 'adamw' or 'muon', got {self.optimizer!r}")
        for name in ("max_steps", "batch_size", "eval_interval", "eval_iters"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16', got {self.precision!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")

    def lr_at(self, step: int) -> float:
        """Linear warm-up to `lr` over `warmup_steps`, then cosine decay to `min_lr` at `max_steps`."""
        min_lr = self.lr / 10 if self.min_lr is None else self.min_lr
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        span = max(1, self.max_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (self.lr - min_lr)


@dataclass(frozen=True)
class CopyPractice:
    """A second stage of training: `train` continues the first stage's weights (a new optimizer and schedule) on the
    same text, with `random_rows` rows of every batch replaced by runs of random tokens read again and again and
    `text_rows` rows by passages of the text read again and again (`data.add_copy_rows`; run lengths drawn from
    `random_lengths` / `text_lengths`, both ends included). It teaches the model to copy from its window, which
    reading the same megabyte for many passes does not (notebooks 15 and 16)."""

    train: TrainConfig
    random_rows: int = 0
    text_rows: int = 0
    random_lengths: tuple[int, int] = (6, 47)
    text_lengths: tuple[int, int] = (16, 64)

    def __post_init__(self) -> None:
        if self.random_rows < 0 or self.text_rows < 0 or self.random_rows + self.text_rows > self.train.batch_size:
            raise ValueError(f"random_rows ({self.random_rows}) and text_rows ({self.text_rows}) must be >= 0 and "
                             f"together at most the batch size ({self.train.batch_size})")

    def loss_fn(self, trainer: Trainer) -> Callable[[int], torch.Tensor]:
        """The trainer's next-token loss on its own random batches with the practice rows put in (drawn from the
        trainer's generator, so that a run, stopped and resumed or not, is reproducible)."""
        def loss(step: int) -> torch.Tensor:
            x, y = get_batch(trainer.train_data, trainer.block_size, trainer.config.batch_size, trainer.generator)
            x, y = add_copy_rows(x, y, trainer.train_data, self.random_rows, trainer.generator, "random",
                                 *self.random_lengths)
            if self.text_rows:
                r = self.random_rows
                xt, yt = add_copy_rows(x[r:], y[r:], trainer.train_data, self.text_rows, trainer.generator, "text",
                                       *self.text_lengths)
                x, y = torch.cat([x[:r], xt]), torch.cat([y[:r], yt])
            return trainer.model(x.to(trainer.device), y.to(trainer.device))[1]
        return loss


@dataclass(frozen=True)
class Recipe:
    """One run: the model to build and how to train it (`pretrain.COURSE_RECIPE`, `objectives.OBJECTIVE_RECIPE`),
    and optionally a second stage of copying practice (`CopyPractice`).

    Change a part with `dataclasses.replace`, e.g. ``replace(recipe.train, max_steps=20)``."""

    model: GPTConfig
    train: TrainConfig
    practice: CopyPractice | None = None


class MuonWithAdamW(torch.optim.Optimizer):
    """torch's own Muon for the 2-D weight matrices inside the blocks, torch's AdamW for everything else.

    Muon orthogonalises each matrix's momentum (Newton-Schulz iterations) before the update; with
    ``adjust_lr_fn="match_rms_adamw"`` its step has the RMS of an AdamW step, so both share one learning rate
    and one schedule. Embeddings, LayerNorm gains and biases stay with AdamW, as Muon's authors recommend.
    One optimizer to the Trainer: its ``param_groups`` are both optimizers' groups, and ``state_dict`` /
    ``load_state_dict`` round-trip through the plain format that checkpoints store.
    """

    def __init__(self, muon_params, adamw_groups, lr: float, betas=(0.9, 0.95), weight_decay: float = 0.0):
        self.muon = torch.optim.Muon(muon_params, lr=lr, weight_decay=weight_decay, adjust_lr_fn="match_rms_adamw")
        self.adamw = torch.optim.AdamW(adamw_groups, lr=lr, betas=betas)
        self.parts = (self.muon, self.adamw)
        self.defaults = {}
        self.param_groups = [g for opt in self.parts for g in opt.param_groups]

    @property
    def state(self):  # read-only view, e.g. for tests
        return {**self.muon.state, **self.adamw.state}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.parts:
            opt.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for opt in self.parts:
            opt.step()
        return loss

    def state_dict(self) -> dict:
        out = {"state": {}, "param_groups": []}
        offset = 0
        for part, opt in enumerate(self.parts):
            sd = opt.state_dict()
            count = sum(len(g["params"]) for g in sd["param_groups"])
            for g in sd["param_groups"]:
                out["param_groups"].append({**g, "params": [i + offset for i in g["params"]], "part": part})
            for i, st in sd["state"].items():
                out["state"][i + offset] = st
            offset += count
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        offset = 0
        for part, opt in enumerate(self.parts):
            groups = [g for g in state_dict["param_groups"] if g.get("part") == part]
            if len(groups) != len(opt.param_groups):
                raise ValueError("optimizer state does not match: saved with a different optimizer or model")
            ids = {i for g in groups for i in g["params"]}
            opt.load_state_dict({
                "param_groups": [{k: (v if k != "params" else [i - offset for i in v]) for k, v in g.items()
                                  if k != "part"} for g in groups],
                "state": {int(i) - offset: st for i, st in state_dict["state"].items() if int(i) in ids},
            })
            offset += len(ids)
        self.param_groups = [g for opt in self.parts for g in opt.param_groups]


def make_optimizer(model: torch.nn.Module, c: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer for the trainable parameters (requires_grad): AdamW with weight decay on matrices only
    (weights and embeddings; none on biases and LayerNorm gains), or, with `c.optimizer == "muon"`, Muon for the
    blocks' weight matrices and that AdamW for the rest."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    muon = [p for n, p in named if p.dim() == 2 and ".h." in f".{n}"] if c.optimizer == "muon" else []
    ids = {id(p) for p in muon}
    rest = [p for _, p in named if id(p) not in ids]
    groups = [{"params": [p for p in rest if p.dim() >= 2], "weight_decay": c.weight_decay},
              {"params": [p for p in rest if p.dim() < 2], "weight_decay": 0.0}]
    if muon:
        return MuonWithAdamW(muon, groups, lr=c.lr, betas=(c.beta1, c.beta2))
    return torch.optim.AdamW(groups, lr=c.lr, betas=(c.beta1, c.beta2))


class Trainer:
    """The course's training loop. By default it trains a GPT on next-token prediction over the 1-D token stream
    `train_data`; `loss_fn(step)` replaces that loss (it draws its own batch and returns a scalar). Only the
    parameters with requires_grad train. `fit()` can be stopped with the Jupyter stop button (the model and
    history stay in memory; a checkpoint is saved) and continued with `fit()` again or `Trainer.resume`.

    Validation runs every `eval_interval` steps and at the last step: `eval_fn()` (a loss), or by default the
    next-token loss on `val_data`. Callbacks are objects with any of `on_step(trainer)`, `on_eval(trainer)`,
    `on_end(trainer)`. `optimizer` replaces `make_optimizer(model, config)`.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        train_data: torch.Tensor | None = None,
        val_data: torch.Tensor | None = None,
        config: TrainConfig | None = None,
        tokenizer=None,
        callbacks: Sequence = (),
        loss_fn: Callable[[int], torch.Tensor] | None = None,
        eval_fn: Callable[[], float] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        desc: str = "training",
    ):
        if train_data is None and loss_fn is None:
            raise ValueError("Trainer needs train_data (a 1-D tensor of token ids) or a loss_fn(step) to minimise")
        self.model, self.config = model, config or TrainConfig()
        self.train_data, self.val_data = train_data, val_data
        self.tokenizer, self.callbacks, self.desc = tokenizer, list(callbacks), desc
        self.block_size = model.config.block_size
        self.device = next(model.parameters()).device
        if train_data is not None:
            get_batch(train_data, self.block_size, 1, torch.Generator())  # fail early on too little data
        self.loss_fn = loss_fn or self.next_token_loss
        self.eval_fn = eval_fn or (None if val_data is None else lambda: self.estimate_loss(val_data))
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("no parameter is trainable (all have requires_grad=False): unfreeze some first")
        self.optimizer = optimizer or make_optimizer(model, self.config)
        self.generator = torch.Generator().manual_seed(self.config.seed)
        # float32 or bfloat16 autocast for the training loss, and why (see utils.choose_precision)
        self.precision = choose_precision(self.device, getattr(model.config, "n_embd", 0), self.config.precision)
        self.step = 0
        self.history = History()

    def next_token_loss(self, step: int) -> torch.Tensor:
        """The default loss: mean cross-entropy of next-token prediction on a random batch of `train_data`."""
        x, y = get_batch(self.train_data, self.block_size, self.config.batch_size, self.generator, self.device)
        return self.model(x, y)[1]

    def estimate_loss(self, data: torch.Tensor) -> float:
        """Mean loss over `eval_iters` batches drawn with a fixed seed (the same batches every time)."""
        gen = torch.Generator().manual_seed(self.config.seed + 1)
        with evaluating(self.model), torch.no_grad():
            losses = [
                self.model(*get_batch(data, self.block_size, self.config.batch_size, gen, self.device))[1].item()
                for _ in range(self.config.eval_iters)
            ]
        return sum(losses) / len(losses)

    def _emit(self, event: str) -> None:
        for cb in self.callbacks:
            handler = getattr(cb, event, None)
            if handler is not None:
                handler(self)

    def fit(self, max_steps: int | None = None) -> History:
        """Train until `max_steps` (default: the config's). Returns the history."""
        c, h = self.config, self.history
        end = c.max_steps if max_steps is None else max_steps
        interval = c.checkpoint_interval or c.eval_interval
        next_token = self.loss_fn == self.next_token_loss
        h.interrupted = False
        self.threads, self.threads_reason = training_threads() if self.device.type == "cpu" else (None, "not a CPU")
        busy = self.threads is not None and self.threads < torch.get_num_threads()  # said beside the bar, live only
        bar = progress(total=end, initial=self.step, desc=self.desc, disable=not c.progress, dynamic_ncols=True)
        start = time.perf_counter() - h.elapsed
        threads = torch_threads(self.threads) if self.threads is not None else contextlib.nullcontext()
        with threads:
            try:
                while self.step < end:
                    t0 = time.perf_counter()
                    self.model.train()  # also after a callback that evaluated the model
                    lr = c.lr_at(self.step)
                    for group in self.optimizer.param_groups:
                        group["lr"] = lr
                    with self.precision.context(self.device):
                        loss = self.loss_fn(self.step)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if c.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(self.params, c.grad_clip)
                    self.optimizer.step()
                    self.step += 1
                    h.steps.append(self.step)
                    h.train_loss.append(loss.item())
                    h.lr.append(lr)
                    if next_token:
                        h.tokens_per_sec.append(c.batch_size * self.block_size / max(time.perf_counter() - t0, 1e-9))
                    h.elapsed = time.perf_counter() - start
                    if self.eval_fn is not None and (self.step % c.eval_interval == 0 or self.step == c.max_steps):
                        h.val_steps.append(self.step)
                        h.val_loss.append(self.eval_fn())
                        self._emit("on_eval")
                    bar.update(1)
                    postfix = {"loss": f"{h.train_loss[-1]:.3f}"}
                    if h.tokens_per_sec:
                        postfix["tok/s"] = f"{h.tokens_per_sec[-1]:,.0f}"
                    if h.val_loss:
                        postfix["val"] = f"{h.val_loss[-1]:.3f}"
                    if busy:
                        postfix["threads"] = f"{self.threads} (machine busy)"
                    bar.set_postfix(postfix, refresh=False)
                    self._emit("on_step")
                    if c.checkpoint_path and (self.step % interval == 0 or self.step == end):
                        self.save(c.checkpoint_path)
            except KeyboardInterrupt:
                h.interrupted = True
                path = c.checkpoint_path or (INTERRUPTED_PATH if next_token else None)
                saved = f", checkpoint saved to {self.save(path)}" if path else ""
                print(f"Training interrupted at step {self.step}; model and history kept{saved}. "
                      f"Call fit() again to continue.")
            finally:
                bar.close()
        self._emit("on_end")
        return h

    def save(self, path: str | os.PathLike):
        """Write a checkpoint that `Trainer.resume` continues bit-for-bit. Returns its path."""
        return save_checkpoint(
            path, self.model, tokenizer=self.tokenizer, step=self.step, optimizer=self.optimizer,
            history=self.history, train_config=self.config, rng={"batches": self.generator.get_state(),
                                                                 "torch": torch.get_rng_state()},
        )

    @classmethod
    def resume(cls, path, train_data, val_data=None, callbacks: Sequence = (), **overrides) -> "Trainer":
        """Continue a next-token run from a checkpoint: same model, optimizer, step, history and random streams."""
        ckpt = load_checkpoint(path)
        if ckpt.train_config is None:
            raise ValueError(f"{path} holds weights only (no training state); start a new Trainer from ckpt.model")
        config = TrainConfig(**{**ckpt.train_config, **overrides})
        trainer = cls(ckpt.model, train_data, val_data, config, ckpt.tokenizer, callbacks)
        trainer.optimizer.load_state_dict(ckpt.optimizer_state)
        trainer.step, trainer.history = ckpt.step, ckpt.history
        if "batches" in ckpt.rng:
            trainer.generator.set_state(ckpt.rng["batches"])
        if "torch" in ckpt.rng:
            torch.set_rng_state(ckpt.rng["torch"])
        return trainer
