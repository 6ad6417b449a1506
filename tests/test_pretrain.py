"""The shipped course checkpoint loads and reproduces its documented figure; a missing one is trained."""
import json
import subprocess
import sys
from dataclasses import asdict, replace

import pytest
import torch

import gpt_course.pretrain as pretrain_module
from gpt_course.data import load_wikitext2
from gpt_course.evaluate import bits_per_byte
from gpt_course.checkpoint import checkpoint_path, course_figures, load_checkpoint, load_course_model
from gpt_course.pretrain import COURSE_RECIPE, state_path


def test_shipped_checkpoint_loads_and_matches_its_validation_figure():
    path = checkpoint_path()
    assert path.exists(), f"the course checkpoint should be shipped at {path} (python -m gpt_course.pretrain)"
    assert path.stat().st_size <= 10 * 2**20, "the shipped checkpoint must stay under 10 MB"
    model, tok = load_course_model()
    figures = course_figures()["figures"]
    assert model.config == COURSE_RECIPE.model
    measured = bits_per_byte(model, tok, load_wikitext2("valid"))
    assert measured == pytest.approx(figures["valid_bits_per_byte"], abs=0.01)


def test_missing_checkpoint_is_trained_rather_than_failing(tmp_path, monkeypatch, capsys):
    tiny = replace(COURSE_RECIPE, model=replace(COURSE_RECIPE.model, vocab_size=300, n_layer=1, n_head=2, n_embd=32,
                                                block_size=32),
                   train=replace(COURSE_RECIPE.train, max_steps=5, warmup_steps=1, batch_size=4), practice=None)
    real = pretrain_module.pretrain
    monkeypatch.setattr(pretrain_module, "pretrain",
                        lambda out, **kw: real(tiny, out=out, evaluate_test=False, progress=False))
    monkeypatch.setattr(pretrain_module, "load_wikitext2", lambda split: load_wikitext2(split)[:20_000])
    model, tok = load_course_model(tmp_path / "course.safetensors", device="cpu")
    assert "training the course recipe now" in capsys.readouterr().out
    assert (tmp_path / "course.safetensors").exists()
    logits, _ = model(torch.tensor([tok.encode("The river")]))
    assert logits.shape[-1] == 300


def test_cli_overrides_need_an_output_path_and_valid_fields(capsys):
    for argv, message in ((["--set", "lr=0.01"], "needs --out"), (["--set", "colour=red", "--out", "x"], "FIELD one of"),
                          (["--set", "lr=fast", "--out", "x"], "not a valid float"), (["--steps", "10"], "needs --out")):
        with pytest.raises(SystemExit):
            pretrain_module.main(argv)
        assert message in capsys.readouterr().err


def test_cli_trains_an_overridden_recipe(tmp_path, monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(pretrain_module, "pretrain",
                        lambda recipe, out, evaluate_test, resume: seen.update(recipe=recipe, out=out, resume=resume)
                        or (None, None, {}))
    pretrain_module.main(["--set", "optimizer=muon", "dropout=0.1", "--steps", "7", "--out", str(tmp_path / "m")])
    assert seen["recipe"] == replace(COURSE_RECIPE, model=replace(COURSE_RECIPE.model, dropout=0.1),
                                     train=replace(COURSE_RECIPE.train, optimizer="muon", max_steps=7, eval_interval=1))
    assert seen["out"] == str(tmp_path / "m") and seen["resume"] is False


def test_course_recipe_is_the_recipe_the_shipped_checkpoint_was_trained_with():
    """The shipped file records the recipe it was made with: it must still be what COURSE_RECIPE builds, so that
    retraining reproduces it."""
    recorded = course_figures()["recipe"]
    expected = json.loads(json.dumps(asdict(COURSE_RECIPE)))  # as stored: tuples become lists
    assert recorded == expected, (recorded, expected)
    shipped = load_checkpoint(checkpoint_path())
    expected, done = [], 0
    for t in (COURSE_RECIPE.train, *([COURSE_RECIPE.practice.train] if COURSE_RECIPE.practice else [])):  # each stage
        evals = list(range(t.eval_interval, t.max_steps + 1, t.eval_interval))
        expected += [done + s for s in evals + ([t.max_steps] if t.max_steps % t.eval_interval else [])]
        done += t.max_steps
    assert shipped.step == done and shipped.history.steps[-1] == done
    assert shipped.history.val_steps == expected
    curve = shipped.history.metrics["valid_bits_per_byte"]  # [step, seconds, bits/byte] along the run
    assert curve[-1][0] == done and curve[-1][2] == pytest.approx(course_figures()["figures"]["valid_bits_per_byte"], abs=1e-3)


def test_the_shipped_model_beats_the_best_ngram_model_on_test():
    """The course's claim in notebook 10: the order-8 Kneser-Ney model (2.1365 test bits/byte, order chosen on
    valid; benchmarks/results/quality_per_minute.json) is beaten by the shipped GPT."""
    import json

    from gpt_course.utils import RUN_TIMES

    ngram = json.loads((RUN_TIMES.parent / "quality_per_minute.json").read_text())["ngram_baseline"]
    assert course_figures()["figures"]["test_bits_per_byte"] < ngram["test_bits_per_byte"]


def test_state_lives_next_to_the_checkpoint():
    assert state_path("a/b.safetensors").as_posix() == "a/b.state.safetensors"


def test_a_stopped_run_resumes_to_the_same_model(tmp_path, monkeypatch):
    tiny = replace(COURSE_RECIPE, model=replace(COURSE_RECIPE.model, vocab_size=300, n_layer=1, n_head=2, n_embd=32,
                                                block_size=32),
                   train=replace(COURSE_RECIPE.train, max_steps=20, warmup_steps=2, batch_size=4, eval_interval=5),
                   practice=None)
    monkeypatch.setattr(pretrain_module, "load_wikitext2", lambda split: load_wikitext2(split)[:20_000])
    whole, _, _ = pretrain_module.pretrain(tiny, tmp_path / "whole.safetensors", evaluate_test=False, progress=False)

    class StopAt:
        def on_step(self, trainer):
            if trainer.step == 13:
                raise KeyboardInterrupt

    out = tmp_path / "stopped.safetensors"
    with pytest.raises(KeyboardInterrupt, match="resume"):
        pretrain_module.pretrain(tiny, out, evaluate_test=False, progress=False, callbacks=[StopAt()])
    assert state_path(out).exists() and not out.exists()
    resumed, _, _ = pretrain_module.pretrain(tiny, out, evaluate_test=False, progress=False, resume=True)
    assert all(torch.equal(p, q) for p, q in zip(whole.parameters(), resumed.parameters()))
    assert out.exists() and not state_path(out).exists()  # the state is removed once the checkpoint is written
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        pretrain_module.pretrain(tiny, tmp_path / "never.safetensors", resume=True)


def test_running_the_module_gives_no_runtime_warning():
    """`python -m gpt_course.pretrain` must not find the module imported already by the package."""
    run = subprocess.run([sys.executable, "-W", "always", "-m", "gpt_course.pretrain", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "usage:" in run.stdout
    assert "RuntimeWarning" not in run.stderr, run.stderr


def test_durations_read_as_a_person_plans():
    assert [pretrain_module.duration(s) for s in (40, 200, 3000, 7200)] == [
        "40 seconds", "3 minutes", "50 minutes", "2.0 hours"]


def _two_stage_tiny():
    from gpt_course.train import CopyPractice

    tiny = replace(COURSE_RECIPE, model=replace(COURSE_RECIPE.model, vocab_size=300, n_layer=1, n_head=2, n_embd=32,
                                                block_size=32, dropout=0.0),
                   train=replace(COURSE_RECIPE.train, max_steps=10, warmup_steps=2, batch_size=4, eval_interval=5),
                   practice=None)
    practice = CopyPractice(replace(tiny.train, max_steps=10, lr=2e-3, weight_decay=0.1, seed=3), random_rows=1,
                            text_rows=1, random_lengths=(3, 8), text_lengths=(4, 10))
    return tiny, replace(tiny, practice=practice)


def test_a_two_stage_run_resumes_in_either_stage_and_can_start_from_a_finished_first_stage(tmp_path, monkeypatch):
    """Copying practice is a second stage: one history (steps and seconds counted on), the first stage's model kept
    until the end, a stop in the second stage resumed exactly, and a first stage trained earlier reused."""
    first_only, recipe = _two_stage_tiny()
    monkeypatch.setattr(pretrain_module, "load_wikitext2", lambda split: load_wikitext2(split)[:20_000])
    whole, _, figures = pretrain_module.pretrain(recipe, tmp_path / "whole.safetensors", evaluate_test=False,
                                                 progress=False)
    saved = load_checkpoint(tmp_path / "whole.safetensors")
    assert saved.step == 20 and saved.history.steps == list(range(1, 21))
    assert [row[0] for row in saved.history.metrics["valid_bits_per_byte"]] == list(range(1, 21))  # every tenth
    seconds = [row[1] for row in saved.history.metrics["valid_bits_per_byte"]]
    assert seconds == sorted(seconds) and [s["steps"] for s in figures["stages"]] == [10, 10]
    assert saved.extra["recipe"]["practice"]["random_rows"] == 1
    assert not pretrain_module.in_progress(tmp_path / "whole.safetensors")

    class StopAt:
        def __init__(self, step):
            self.step, self.seen = step, 0

        def on_step(self, trainer):
            self.seen += 1
            if self.seen == self.step:
                raise KeyboardInterrupt

    out = tmp_path / "stopped.safetensors"
    with pytest.raises(KeyboardInterrupt, match="resume"):  # stopped in the second stage (its 4th step)
        pretrain_module.pretrain(recipe, out, evaluate_test=False, progress=False, callbacks=[StopAt(14)])
    assert pretrain_module.stage1_path(out).exists() and pretrain_module.practice_state_path(out).exists()
    resumed, _, _ = pretrain_module.pretrain(recipe, out, evaluate_test=False, progress=False, resume=True)
    assert all(torch.equal(p, q) for p, q in zip(whole.parameters(), resumed.parameters()))
    assert not pretrain_module.in_progress(out) and out.exists()

    pretrain_module.pretrain(first_only, tmp_path / "first.safetensors", evaluate_test=False, progress=False)
    reused, _, _ = pretrain_module.pretrain(recipe, tmp_path / "reused.safetensors", evaluate_test=False,
                                            progress=False, first_stage=tmp_path / "first.safetensors")
    assert all(torch.equal(p, q) for p, q in zip(whole.parameters(), reused.parameters()))
    other = replace(recipe, train=replace(recipe.train, lr=1e-3))
    with pytest.raises(ValueError, match="not a finished first stage of this recipe"):
        pretrain_module.pretrain(other, tmp_path / "x.safetensors", evaluate_test=False, progress=False,
                                 first_stage=tmp_path / "first.safetensors")


def test_copy_practice_rows_must_fit_the_batch():
    from gpt_course.train import CopyPractice

    with pytest.raises(ValueError, match="at most the batch size"):
        CopyPractice(replace(COURSE_RECIPE.train, batch_size=4), random_rows=3, text_rows=2)
