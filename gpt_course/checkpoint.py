"""Checkpoints: one safetensors file per model, and the course's shipped one.

A checkpoint holds the model's and the optimizer's tensors, the random-number states, and a JSON header
(config, tokenizer, step, history, a SHA-256 of every tensor). It is written to a temporary file and renamed,
so a crash mid-write never destroys the last good one, and loading runs no pickled code.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .model import GPT, GPTConfig
from .utils import default_device

FORMAT = "gpt_course.checkpoint.v1"
COURSE_CHECKPOINT = "course_gpt.safetensors"


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
    # other measurements during the run, by name: [step, seconds of training so far, value] each
    metrics: dict[str, list] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(**d)


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
    train_config=None,
    rng: dict[str, torch.Tensor] | None = None,
    extra: dict | None = None,
) -> Path:
    """Save atomically (temporary file + rename). `train_config` is a `TrainConfig`. Returns the path."""
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


# --------------------------------------------------------------------------------------------- the course model


def checkpoint_path() -> Path:
    """Where the course checkpoint lives: data/checkpoints/ in a source checkout, else the user's cache folder."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").exists():
        return root / "data" / "checkpoints" / COURSE_CHECKPOINT
    return Path(os.environ.get("GPT_COURSE_CACHE", Path.home() / ".cache" / "gpt_course")) / COURSE_CHECKPOINT


def load_course_model(path: str | os.PathLike | None = None, device=None) -> tuple[GPT, Any]:
    """The pretrained course model and its tokenizer; trains the course recipe first if it is missing (about 45
    minutes on two CPU cores, with a progress bar and an estimate measured first; a stopped run continues where it
    stopped the next time)."""
    path = Path(path) if path is not None else checkpoint_path()
    if not path.exists():
        from . import pretrain as run  # only when needed: `python -m gpt_course.pretrain` runs that module itself

        resume = run.in_progress(path)
        estimate = run.duration(run.estimate_seconds(run.COURSE_RECIPE))
        print(f"gpt_course: no course checkpoint at {path}; training the course recipe now "
              f"({'continuing the stopped run; ' if resume else ''}about {estimate} for the whole run on "
              f"this machine). It is saved there for next time; if you stop it, calling this again continues it.",
              flush=True)
        run.pretrain(out=path, resume=resume)
    ckpt = load_checkpoint(path, device=device or default_device())
    ckpt.model.eval()
    return ckpt.model, ckpt.tokenizer


def course_figures(path: str | os.PathLike | None = None) -> dict:
    """The figures measured when the course checkpoint was made (recipe, times, bits per byte)."""
    return load_checkpoint(Path(path) if path is not None else checkpoint_path()).extra
