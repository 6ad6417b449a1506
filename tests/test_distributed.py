"""Data parallelism: two gloo processes started by torchrun train exactly as one process on the same global batch."""
import json
import subprocess

import pytest
import torch

from gpt_course.distributed import local_env, shard, torchrun_command, train_data_parallel

STEPS = 4
ARGS = dict(steps=STEPS, batch_size=8, block_size=32, n_layer=1, n_head=2, n_embd=32, max_chars=50_000)


def test_shards_are_contiguous_equal_and_rebuild_the_global_batch():
    batch = torch.arange(24).reshape(12, 2)
    for world_size in (1, 2, 3, 4):
        parts = [shard(batch, r, world_size) for r in range(world_size)]
        assert all(p.shape[0] == 12 // world_size for p in parts)
        assert torch.equal(torch.cat(parts), batch)  # in rank order, nothing lost or repeated


def test_shard_rejects_an_uneven_split_and_a_bad_rank():
    with pytest.raises(ValueError, match="does not split evenly"):
        shard(torch.zeros(10, 3), 0, 4)
    with pytest.raises(ValueError, match="rank"):
        shard(torch.zeros(8, 3), 2, 2)


def test_torchrun_two_processes_match_one_process(tmp_path):
    out = tmp_path / "ddp.json"
    cli = [f"--{k.replace('_', '-')}={v}" for k, v in ARGS.items()] + [f"--out={out}"]
    cmd = torchrun_command(2, *cli)
    assert "--standalone" in cmd  # a local rendezvous on this machine only
    run = subprocess.run(cmd, env=local_env(threads=1), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    ddp = json.loads(out.read_text())

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each torchrun process
    try:
        single = train_data_parallel(**ARGS)
    finally:
        torch.set_num_threads(threads)

    assert ddp["world_size"] == 2 and ddp["per_rank_batch_size"] == 4 and single["world_size"] == 1
    assert ddp["replica_max_abs_diff"] == 0.0  # the two replicas hold bit-identical weights
    assert len(ddp["loss"]) == len(single["loss"]) == STEPS
    torch.testing.assert_close(torch.tensor(ddp["loss"]), torch.tensor(single["loss"]), atol=1e-5, rtol=0)
    assert ddp["loss"][-1] < ddp["loss"][0]  # and it learns
