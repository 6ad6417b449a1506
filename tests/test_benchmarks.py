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
    for lib in ("gpt_course", "transformers"):  # the step's matrix products: time, share of the step, rate
        mm = size["matmul"][lib]
        assert 0 < mm["ms_per_step"]
        assert mm["share_of_step"] == pytest.approx(mm["ms_per_step"] / mm["step_ms"], abs=2e-3)
        assert mm["of_gemm_peak"] == pytest.approx(mm["gflops"] / size["gemm_peak_gflops"], rel=0.02, abs=2e-3)
    assert size["matmul"]["gpt_course"]["step_ms"] == pytest.approx(size["config"]["batch"] * size["config"][
        "block_size"] / ours * 1e3, rel=0.01)  # the median step the tokens/s come from
    assert "matmul" not in r["precision"]["bfloat16"]["0.8M"]
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
    runs = r["runs"]
    assert {(x["recipe"], x["budget_minutes"]) for x in runs} == {  # the short budget compresses the quick recipe,
        ("quick", 0.02), ("long", 0.1), ("nanogpt_style", 0.02), ("nanogpt_style", 0.1)}  # the long one goes on
    assert all(2.0 < x["test_bits_per_byte"] < 9.0 for x in runs)
    for x in runs:  # the step count is the budget over the time per step, never past the quick recipe's own
        ms = r["step_ms"][x["recipe"]]["ms"]
        assert x["steps"] == max(10, int(x["budget_minutes"] * 60_000 / ms))
        if x["recipe"] == "quick":
            assert x["steps"] <= r["recipes"]["quick"]["train"]["max_steps"]
    baseline = r["ngram_baseline"]
    valid = {int(n): bits for n, bits in baseline["valid_bits_per_char_by_order"].items()}
    best = min(valid, key=valid.get)
    assert baseline["model"].startswith(f"char {best}-gram")  # the order chosen on valid is the one scored
    assert valid[1] > valid[2] > valid[3]  # longer contexts help a character model on English
    assert 1.5 < baseline["test_bits_per_byte"] < valid[1]
    half, whole = r["sizes"]  # text sizes: whole articles, and the whole text is the budget run above
    assert half["train_fraction"] == 0.5 and whole["train_fraction"] == 1.0
    assert 0.35 < half["train_bytes"] / whole["train_bytes"] < 0.65
    assert whole["ngram"] == baseline and whole["gpt"] in runs
    assert half["ngram"]["test_bits_per_byte"] > baseline["test_bits_per_byte"]  # less text, a worse n-gram model


def test_first_part_keeps_whole_articles():
    sys.path.insert(0, str(BENCH))
    from quality_per_minute import first_part

    from gpt_course.data import split_articles

    text = "".join(f" \n = Title {i} = \n \n {'word ' * (10 + i)}\n" for i in range(8))  # WikiText's layout
    assert len(split_articles(text)) == 8
    for fraction in (0.1, 0.3, 0.5, 0.9):
        part = first_part(text, fraction)
        assert text.startswith(part) and split_articles(part) == split_articles(text)[:len(split_articles(part))]
        assert abs(len(part) - fraction * len(text)) <= max(len(a) for a in split_articles(text)) / 2 + 1
    assert first_part(text, 1.0) == text and first_part(text, 0.001) == split_articles(text)[0]


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


def test_quality_per_minute_save_merges_runs(tmp_path, monkeypatch):
    """Budgets measured by separate processes end up in one file; the same budget measured again replaces the
    old run; another baseline (other data) starts the file afresh."""
    sys.path.insert(0, str(BENCH))
    import quality_per_minute as qpm

    monkeypatch.setattr(qpm, "RESULTS", tmp_path)
    baseline = {"model": "char 8-gram", "test_bits_per_byte": 2.1, "valid_bits_per_char_by_order": {1: 4.5, 8: 2.2}}

    def result(runs, checkpoints=(), bits=2.1):
        return {"recipes": {"quick": {"steps": (1, 2)}}, "ngram_baseline": {**baseline, "test_bits_per_byte": bits},
                "step_ms": {}, "runs": runs, "sizes": [], "checkpoints": list(checkpoints)}

    def run(recipe, minutes, bits):
        return {"recipe": recipe, "budget_minutes": minutes, "train_fraction": 1.0, "test_bits_per_byte": bits}

    qpm.save(result([run("quick", 1, 2.7), run("quick", 2, 2.3)]))
    qpm.save(result([run("long", 30, 2.09)], [{"recipe": "COURSE_RECIPE, both stages", "steps": 4500}]))
    qpm.save(result([run("quick", 2, 2.31)]))
    saved = json.loads((tmp_path / "quality_per_minute.json").read_text())
    assert [(r["recipe"], r["budget_minutes"], r["test_bits_per_byte"]) for r in saved["runs"]] == [
        ("quick", 1, 2.7), ("quick", 2, 2.31), ("long", 30, 2.09)]
    assert len(saved["checkpoints"]) == 1
    qpm.save(result([run("quick", 5, 2.2)], bits=2.5))
    assert [r["budget_minutes"] for r in json.loads((tmp_path / "quality_per_minute.json").read_text())["runs"]] == [5]
