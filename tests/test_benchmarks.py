"""Each benchmark script runs in --quick mode and prints one JSON object with the promised fields."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def run(script: str) -> dict:
    out = subprocess.run([sys.executable, str(BENCH / script), "--quick"], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "GPT_COURSE_FAST": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


@pytest.mark.slow
def test_train_throughput_quick():
    r = run("train_throughput.py")
    assert set(r["precision"]) == {"float32", "bfloat16"}  # both precisions, each against transformers
    assert r["precision"]["bfloat16"]["0.8M"]["gemm_peak_gflops"] > 0
    size = r["precision"]["float32"]["0.8M"]
    ours, theirs = size["gpt_course_tokens_per_s"], size["transformers_tokens_per_s"]
    assert ours > 0 and theirs > 0
    assert size["ratio"] == pytest.approx(ours / theirs, rel=0.01)  # the ratio is of the speeds it reports
    mfu = 6 * size["parameters"] * ours / (size["gemm_peak_gflops"] * 1e9)
    assert size["model_flop_utilisation"] == pytest.approx(mfu, rel=0.02, abs=6e-4) and 0.005 < mfu < 1.0
    from gpt_course import GPTConfig, parameter_count

    c = size["config"]
    expected = parameter_count(GPTConfig(vocab_size=c["vocab"], block_size=c["block_size"], n_layer=c["n_layer"],
                                         n_head=c["n_head"], n_embd=c["n_embd"]))
    assert size["parameters"] == expected


@pytest.mark.slow
def test_generation_quick():
    r = run("generation.py")["sizes"]["course (2.3M)"]
    assert r["greedy_identical"]["cache_vs_no_cache"], "the KV cache must not change greedy output"
    assert r["greedy_identical"]["vs_transformers"], "greedy output must equal transformers' generate"
    tps = r["tokens_per_s"]
    assert r["cache_speedup"] == pytest.approx(tps["gpt_course_cache"] / tps["gpt_course_no_cache"], rel=0.02)
    assert r["ratio_vs_transformers"] == pytest.approx(tps["gpt_course_cache"] / tps["transformers_generate_cache"],
                                                       rel=0.02)
    assert r["cache_speedup"] > 1.2, "with 64 new tokens the cache must be faster than recomputing every step"


@pytest.mark.slow
def test_quality_per_minute_quick():
    r = run("quality_per_minute.py")
    names = {run_["recipe"] for run_ in r["runs"]}
    assert names == {"course", "nanogpt_style"}
    assert all(2.0 < run_["test_bits_per_byte"] < 9.0 for run_ in r["runs"])
    baseline = r["ngram_baseline"]
    valid = {int(n): bits for n, bits in baseline["valid_bits_per_char_by_order"].items()}
    best = min(valid, key=valid.get)
    assert baseline["model"].startswith(f"char {best}-gram")  # the order chosen on valid is the one scored
    assert valid[1] > valid[2] > valid[3]  # longer contexts help a character model on English
    assert 1.5 < baseline["test_bits_per_byte"] < valid[1]
    for run_ in r["runs"]:  # the course recipe never runs past its own schedule, nor past the budget
        assert run_["steps"] <= run_["steps_in_budget"]
        if run_["recipe"] == "course":
            assert run_["steps"] <= r["course_recipe"]["train"]["max_steps"]


@pytest.mark.slow
def test_threads_under_load_quick():
    r = run("threads_under_load.py")
    cores = r["cores"]
    settings = {(x["threads"], x["competing_process"], x["omp_wait_policy"]) for x in r["runs"]}
    busy = ("none", "python loop", "torch matmuls")
    assert settings == {(t, b, p) for t in {1, cores} for b in busy for p in ("default", "PASSIVE")}
    assert all(x["train_step_ms"] > 0 and x["generation_s"] > 0 and x["generation_course_s"] > 0 for x in r["runs"])
    assert len(r["slowdown_beside_busy_process"]) == 2 * 2 * len({1, cores})


@pytest.mark.slow
def test_notebooks_quick():
    r = run("notebooks.py")
    assert r["summary"]["test"]["all_ok"], r["notebooks"]


@pytest.mark.slow
def test_copy_practice_quick():
    r = run("copy_practice.py")
    runs = r["runs"]
    # the checkpoint, the control, and practice of each kind
    assert [(x["copy_fraction"], x["copy_source"]) for x in runs] == [(None, None), (0.0, None), (0.5, "random"),
                                                                       (0.5, "text")]
    assert runs[0]["steps"] == 0 and runs[1]["steps"] == runs[2]["steps"] == runs[3]["steps"] > 0
    for x in runs:
        assert 2.0 < x["valid_bits_per_byte"] < 3.0
        for first, second in (x["text_first_second"], x["random_first_second"]):
            assert 0 < first < 20 and 0 < second < 20
        d = x["dialogue"]
        assert 0 <= d["slot_exact"] <= 1 and 0 <= d["intent_accuracy"] <= 1 and d["test_slot_replies"] > 0
    assert runs[0]["random_first_second"][0] > 8  # random tokens are unpredictable on the first reading
