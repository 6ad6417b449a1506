"""Data-parallel training with PyTorch's own engine: `torch.distributed` and `DistributedDataParallel` (notebook 19).

    torchrun --standalone --nproc_per_node=2 -m gpt_course.distributed --steps 20 --out runs/ddp.json
    python -m gpt_course.distributed --steps 20 --out runs/single.json     # the same run in one process

Every process (rank) draws the same global batch from one seeded generator and trains on its own contiguous
slice of it. During `backward()` DDP averages the gradients of all ranks (an all-reduce), so every rank takes
the optimizer step a single process would take on the whole global batch, and all replicas stay identical.
Rank 0 writes the loss curve as JSON.

Backends: `gloo` runs CPU processes; `nccl` gives each process one CUDA GPU (picked by LOCAL_RANK). On several
machines start the same command on each with `--nnodes=N --nproc_per_node=GPUS --rdzv-backend=c10d
--rdzv-endpoint=HOST:PORT --rdzv-id=JOB` instead of `--standalone`.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .data import get_batch, load_wikitext2
from .model import GPT, GPTConfig
from .tokenizers import ByteTokenizer
from .train import TrainConfig, Trainer
from .utils import seed_everything

BACKENDS = ("gloo", "nccl")


def shard(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank `rank`'s contiguous slice of a global batch (rows rank·B/W … (rank+1)·B/W − 1)."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank={rank} must be in [0, world_size={world_size})")
    n = batch.shape[0]
    if n % world_size:
        raise ValueError(f"the global batch of {n} rows does not split evenly over {world_size} processes: "
                         f"choose a batch size divisible by {world_size}, so every rank's loss has the same weight")
    per_rank = n // world_size
    return batch[rank * per_rank:(rank + 1) * per_rank]


def loopback_interface() -> str | None:
    """Name of the loopback network interface ('lo' on Linux, 'lo0' on macOS), if there is one."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (OSError, AttributeError):
        return None
    return next((n for n in names if n.startswith("lo")), None)


def torchrun_command(nproc: int, *script_args: str) -> list[str]:
    """`torchrun --standalone --nproc_per_node=nproc -m gpt_course.distributed ...`, run with this Python."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "gpt_course.distributed", *script_args]


def local_env(threads: int = 1) -> dict[str, str]:
    """Environment for local runs: `threads` threads per process, and gloo bound to the loopback interface,
    so the processes talk over 127.0.0.1 only."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    lo = loopback_interface()
    if lo is not None:
        env["GLOO_SOCKET_IFNAME"] = lo
    return env


def _setup(backend: str) -> tuple[int, int, torch.device]:
    """Join the process group when started by torchrun (WORLD_SIZE set); a plain process is rank 0 of 1."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is unknown: use 'gloo' (CPU) or 'nccl' (one CUDA GPU per process)")
    if backend == "nccl" and not torch.cuda.is_available():
        raise RuntimeError("--backend nccl needs CUDA GPUs; use --backend gloo to train with CPU processes")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}") if backend == "nccl" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group(backend)
        return dist.get_rank(), dist.get_world_size(), device
    return 0, 1, device


def _replica_difference(model: torch.nn.Module, world_size: int) -> float:
    """Largest |weight − rank 0's weight| over all ranks: 0.0 when every replica holds the same model."""
    flat = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    if world_size == 1:
        return 0.0
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    diff = (flat - reference).abs().max().reshape(1)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return diff.item()


def train_data_parallel(steps: int = 20, batch_size: int = 16, block_size: int = 64, n_layer: int = 2,
                        n_head: int = 4, n_embd: int = 64, lr: float = 3e-3, seed: int = 0, max_chars: int = 200_000,
                        backend: str = "gloo") -> dict:
    """Train a small byte-level GPT on WikiText-2, data-parallel over the ranks torchrun started (or alone).

    Returns the run's record (on every rank): the global-batch loss of every step and what was run."""
    rank, world_size, device = _setup(backend)
    try:
        tok = ByteTokenizer()
        data = torch.tensor(tok.encode(load_wikitext2("train")[:max_chars]), dtype=torch.long)
        seed_everything(seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
        config = GPTConfig(vocab_size=tok.vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head,
                           n_embd=n_embd)
        model = GPT(config).to(device)
        ddp = model  # one process: nothing to synchronise
        if world_size > 1:  # DDP broadcasts rank 0's weights, then all-reduces gradients during backward
            ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        batches = torch.Generator().manual_seed(seed)  # identical on every rank: the same global batches

        def loss_fn(step: int) -> torch.Tensor:
            x, y = get_batch(data, block_size, batch_size, batches)  # the global batch (B, T)
            x, y = shard(x, rank, world_size).to(device), shard(y, rank, world_size).to(device)
            return ddp(x, y)[1]  # this rank's mean loss over its B/W rows; backward() all-reduces the gradients

        schedule = TrainConfig(max_steps=steps, batch_size=batch_size, lr=lr, warmup_steps=max(1, steps // 10),
                               progress=False)
        history = Trainer(model, config=schedule, loss_fn=loss_fn).fit()  # optimizer and clipping on the replica
        losses = torch.tensor(history.train_loss)  # this rank's loss of every step
        if world_size > 1:  # the mean of equal-sized shards' means is the global batch's mean
            dist.all_reduce(losses)
            losses /= world_size
        seconds = history.elapsed
        record = {
            "world_size": world_size,
            "backend": backend if world_size > 1 else "none (single process)",
            "device": str(device),
            "global_batch_size": batch_size,
            "per_rank_batch_size": batch_size // world_size,
            "steps": steps,
            "loss": losses.tolist(),
            "seconds": round(seconds, 3),
            "tokens_per_second": round(steps * batch_size * block_size / max(seconds, 1e-9), 1),
            "replica_max_abs_diff": _replica_difference(model, world_size),
            "parameters": model.num_parameters(),
            "config": config.to_dict(),
            "seed": seed,
            "lr": lr,
            "threads_per_process": torch.get_num_threads(),
        }
        if dist.is_initialized():
            dist.barrier()  # no rank tears gloo down while another still talks to it (an abort at exit otherwise)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return record


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=16, help="GLOBAL batch size, split over the processes")
    parser.add_argument("--block-size", type=int, default=64, help="tokens (bytes) per sequence")
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (warm-up + cosine)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-chars", type=int, default=200_000, help="characters of WikiText-2 train to use")
    parser.add_argument("--backend", default="gloo", choices=BACKENDS,
                        help="gloo: CPU processes; nccl: one CUDA GPU per process")
    parser.add_argument("--out", default=None, help="where rank 0 writes the JSON record (default: print only)")
    args = parser.parse_args(argv)
    record = train_data_parallel(args.steps, args.batch_size, args.block_size, args.n_layer, args.n_head,
                                 args.n_embd, args.lr, args.seed, args.max_chars, args.backend)
    if int(os.environ.get("RANK", "0")) == 0:
        if args.out:
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(record, indent=1))
        print(f"world_size={record['world_size']} steps={record['steps']} first loss {record['loss'][0]:.4f} "
              f"last loss {record['loss'][-1]:.4f} ({record['seconds']:.1f} s, "
              f"{record['tokens_per_second']:,.0f} tokens/s){' -> ' + args.out if args.out else ''}")
    return record


if __name__ == "__main__":
    main()
