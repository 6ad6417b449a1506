"""Training: AdamW with warm-up + cosine schedule, progress bar, live history, interrupt-safe checkpoints.

A checkpoint is one safetensors file: the model's and the optimizer's tensors, the random-number states, and
a JSON header (config, tokenizer, step, history, a SHA-256 of every tensor). It is written to a temporary
file and renamed, so a crash mid-write never destroys the last good one, and loading runs no pickled code.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from .data import get_batch
from .model import GPT, GPTConfig

FORMAT = "gpt_course.checkpoint.v1"


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

    def __post_init__(self) -> None:
        if self.optimizer not in ("adamw", "muon"):
            raise ValueError(f"optimizer must be 'adamw' or 'muon', got {self.optimizer!r}")
        for name in ("max_steps", "batch_size", "eval_interval", "eval_iters"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
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
    """AdamW with weight decay on matrices only (`c.optimizer == "adamw"`), or Muon + AdamW (`"muon"`)."""
    muon = [p for n, p in model.named_parameters() if p.dim() == 2 and ".h." in f".{n}"] if c.optimizer == "muon" else []
    ids = {id(p) for p in muon}
    rest = [p for p in model.parameters() if id(p) not in ids]
    groups = [{"params": [p for p in rest if p.dim() >= 2], "weight_decay": c.weight_decay},
              {"params": [p for p in rest if p.dim() < 2], "weight_decay": 0.0}]
    if muon:
        return MuonWithAdamW(muon, groups, lr=c.lr, betas=(c.beta1, c.beta2))
    return torch.optim.AdamW(groups, lr=c.lr, betas=(c.beta1, c.beta2))


@dataclass
class History:
    """What happened during training, for plots: per-step losses and learning rates, periodic validation."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    tokens_per_sec: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    interrupted: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(**d)


class Trainer:
    """Trains a GPT on 1-D token streams. `fit()` can be stopped with the Jupyter stop button (the model and
    history stay in memory and a checkpoint is saved) and continued with `fit()` again or `Trainer.resume`."""

    def __init__(
        self,
        model: GPT,
        train_data: torch.Tensor,
        val_data: torch.Tensor | None = None,
        config: TrainConfig | None = None,
        tokenizer=None,
        callbacks: Sequence[Callable] = (),
    ):
        self.model, self.config = model, config or TrainConfig()
        self.train_data, self.val_data = train_data, val_data
        self.tokenizer, self.callbacks = tokenizer, list(callbacks)
        self.block_size = model.config.block_size
        get_batch(train_data, self.block_size, 1, torch.Generator())  # fail early on too little data
        self.device = model.device
        self.optimizer = make_optimizer(model, self.config)
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.step = 0
        self.history = History()

    def estimate_loss(self, data: torch.Tensor) -> float:
        """Mean loss over `eval_iters` batches drawn with a fixed seed (the same batches every time)."""
        gen = torch.Generator().manual_seed(self.config.seed + 1)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            losses = [
                self.model(*get_batch(data, self.block_size, self.config.batch_size, gen, self.device))[1].item()
                for _ in range(self.config.eval_iters)
            ]
        self.model.train(was_training)
        return sum(losses) / len(losses)

    def _emit(self, event: str) -> None:
        for cb in self.callbacks:
            handler = getattr(cb, event, None)
            if handler is not None:
                handler(self)

    def fit(self, max_steps: int | None = None) -> History:
        """Train until `max_steps` (default: the config's). Returns the history."""
        c = self.config
        end = c.max_steps if max_steps is None else max_steps
        interval = c.checkpoint_interval or c.eval_interval
        self.model.train()
        self.history.interrupted = False
        bar = tqdm(total=end, initial=self.step, desc="training", disable=not c.progress, dynamic_ncols=True)
        start = time.perf_counter() - self.history.elapsed
        try:
            while self.step < end:
                t0 = time.perf_counter()
                lr = c.lr_at(self.step)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                x, y = get_batch(self.train_data, self.block_size, c.batch_size, self.generator, self.device)
                _, loss = self.model(x, y)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if c.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
                self.optimizer.step()
                self.step += 1
                h = self.history
                h.steps.append(self.step)
                h.train_loss.append(loss.item())
                h.lr.append(lr)
                h.tokens_per_sec.append(x.numel() / max(time.perf_counter() - t0, 1e-9))
                h.elapsed = time.perf_counter() - start
                if self.val_data is not None and (self.step % c.eval_interval == 0 or self.step == c.max_steps):
                    h.val_steps.append(self.step)
                    h.val_loss.append(self.estimate_loss(self.val_data))
                    self._emit("on_eval")
                bar.update(1)
                postfix = {"loss": f"{h.train_loss[-1]:.3f}", "tok/s": f"{h.tokens_per_sec[-1]:,.0f}"}
                if h.val_loss:
                    postfix["val"] = f"{h.val_loss[-1]:.3f}"
                bar.set_postfix(postfix, refresh=False)
                self._emit("on_step")
                if c.checkpoint_path and (self.step % interval == 0 or self.step == end):
                    self.save(c.checkpoint_path)
        except KeyboardInterrupt:
            self.history.interrupted = True
            path = c.checkpoint_path or "runs/interrupted.safetensors"
            self.save(path)
            print(f"Training interrupted at step {self.step}; model and history kept, checkpoint saved to {path}. "
                  f"Call fit() again to continue.")
        finally:
            bar.close()
        self._emit("on_end")
        return self.history

    def save(self, path: str | os.PathLike) -> Path:
        """Write a checkpoint that `Trainer.resume` continues bit-for-bit."""
        return save_checkpoint(
            path, self.model, tokenizer=self.tokenizer, step=self.step, optimizer=self.optimizer,
            history=self.history, train_config=self.config, rng={"batches": self.generator.get_state(),
                                                                 "torch": torch.get_rng_state()},
        )

    @classmethod
    def resume(cls, path, train_data, val_data=None, callbacks: Sequence[Callable] = (), **overrides) -> "Trainer":
        """Continue from a checkpoint: same model, optimizer, step, history and random streams."""
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


def train(model: GPT, train_data, val_data=None, config: TrainConfig | None = None, tokenizer=None,
          callbacks: Sequence[Callable] = ()) -> History:
    """Train `model` in place and return its history (see `Trainer` to continue or resume)."""
    return Trainer(model, train_data, val_data, config, tokenizer, callbacks).fit()


# --------------------------------------------------------------------------------------------- checkpoints


@dataclass
class Checkpoint:
    model: GPT
    tokenizer: Any = None
    step: int = 0
    history: History = field(default_factory=History)
    train_config: dict | None = None
    optimizer_state: dict | None = None
    rng: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_checkpoint(
    path: str | os.PathLike,
    model: GPT,
    tokenizer=None,
    step: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
    history: History | None = None,
    train_config: TrainConfig | None = None,
    rng: dict[str, torch.Tensor] | None = None,
    extra: dict | None = None,
) -> Path:
    """Save atomically (temporary file + rename). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    tied = model.config.tie_weights
    for name, t in model.state_dict().items():
        if tied and name == "lm_head.weight":
            continue  # the same matrix as transformer.wte.weight
        tensors[f"model.{name}"] = t.detach().cpu().contiguous()
    optim_meta = None
    if optimizer is not None:
        state = optimizer.state_dict()
        optim_meta = {"param_groups": state["param_groups"], "state": {}}
        for pid, pstate in state["state"].items():
            optim_meta["state"][str(pid)] = sorted(pstate)
            for key, value in pstate.items():
                tensors[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous()
    for key, value in (rng or {}).items():
        tensors[f"rng.{key}"] = value.detach().cpu().contiguous()
    meta = {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "tokenizer": tokenizer.to_dict() if tokenizer is not None else None,
        "step": step,
        "history": history.to_dict() if history is not None else None,
        "train_config": asdict(train_config) if train_config is not None else None,
        "optimizer": optim_meta,
        "extra": extra or {},
        "sha256": _digest(tensors),
    }
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"gpt_course": json.dumps(meta)})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; a checkpoint is an ordinary file
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: train first, or check the path")
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{path} is not a readable checkpoint (corrupted or truncated?): {err}") from err
    if "gpt_course" not in header:
        raise ValueError(f"{path} is a safetensors file but not a gpt_course checkpoint (no 'gpt_course' header)")
    meta = json.loads(header["gpt_course"])
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} has checkpoint format {meta.get('format')!r}; this version reads {FORMAT!r}")
    if _digest(tensors) != meta.get("sha256"):
        raise ValueError(f"{path} failed its SHA-256 check: the tensors were changed after saving (corrupted or "
                         f"tampered); use another checkpoint or retrain")
    return tensors, meta


def load_checkpoint(path: str | os.PathLike, device: str | torch.device | None = None) -> Checkpoint:
    """Load a checkpoint saved by `save_checkpoint`; verifies its SHA-256, never unpickles anything."""
    path = Path(path)
    tensors, meta = _read(path)
    model = GPT(GPTConfig.from_dict(meta["config"]))
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    allowed_missing = {"lm_head.weight"} if model.config.tie_weights else set()
    if set(missing) - allowed_missing or unexpected:
        raise ValueError(f"{path} does not match its config: missing {missing}, unexpected {unexpected}")
    if device is not None:
        model.to(device)
    tokenizer = None
    if meta.get("tokenizer") is not None:
        from .tokenizers import tokenizer_from_dict

        tokenizer = tokenizer_from_dict(meta["tokenizer"])
    optimizer_state = None
    if meta.get("optimizer") is not None:
        om = meta["optimizer"]
        optimizer_state = {
            "param_groups": om["param_groups"],
            "state": {int(pid): {key: tensors[f"optim.{pid}.{key}"] for key in keys} for pid, keys in om["state"].items()},
        }
    rng = {k[len("rng."):]: v for k, v in tensors.items() if k.startswith("rng.")}
    history = History.from_dict(meta["history"]) if meta.get("history") else History()
    return Checkpoint(model, tokenizer, meta.get("step", 0), history, meta.get("train_config"), optimizer_state, rng,
                      meta.get("extra", {}))
