"""The shipped course checkpoint loads and reproduces its documented figure; a missing one is trained."""
from dataclasses import replace

import pytest
import torch

import gpt_course.pretrain as pretrain_module
from gpt_course.data import load_wikitext2
from gpt_course.evaluate import bits_per_byte
from gpt_course.pretrain import COURSE_RECIPE, checkpoint_path, course_figures, load_course_model


def test_shipped_checkpoint_loads_and_matches_its_validation_figure():
    path = checkpoint_path()
    assert path.exists(), f"the course checkpoint should be shipped at {path} (python -m gpt_course.pretrain)"
    assert path.stat().st_size <= 10 * 2**20, "the shipped checkpoint must stay under 10 MB"
    model, tok = load_course_model()
    figures = course_figures()["figures"]
    assert model.config == COURSE_RECIPE.model_config()
    measured = bits_per_byte(model, tok, load_wikitext2("valid"))
    assert measured == pytest.approx(figures["valid_bits_per_byte"], abs=0.01)


def test_missing_checkpoint_is_trained_rather_than_failing(tmp_path, monkeypatch, capsys):
    tiny = replace(COURSE_RECIPE, vocab_size=300, n_layer=1, n_head=2, n_embd=32, block_size=32, max_steps=5,
                   warmup_steps=1, batch_size=4)
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
                        lambda recipe, out, evaluate_test: seen.update(recipe=recipe, out=out) or (None, None, {}))
    pretrain_module.main(["--set", "optimizer=muon", "dropout=0.1", "--steps", "7", "--out", str(tmp_path / "m")])
    assert seen["recipe"] == replace(COURSE_RECIPE, optimizer="muon", dropout=0.1, max_steps=7)
    assert seen["out"] == str(tmp_path / "m")
