"""Precision and threads: the choices the trainer makes from the hardware and the load, and why."""
import os

import pytest
import torch

import gpt_course.utils as utils
from gpt_course import GPT, GPTConfig, generate, seed_everything
from gpt_course.train import TrainConfig, Trainer
from gpt_course.utils import Precision, choose_precision, torch_threads, training_threads


def test_precision_follows_the_hardware_and_says_why(monkeypatch):
    monkeypatch.delenv("GPT_COURSE_PRECISION", raising=False)
    monkeypatch.setattr(utils, "cpu_has_bf16_units", lambda: False)
    p = choose_precision("cpu", 384)
    assert p.dtype == torch.float32 and not p.autocast and "emulated" in p.reason
    monkeypatch.setattr(utils, "cpu_has_bf16_units", lambda: True)
    narrow, wide = choose_precision("cpu", 192), choose_precision("cpu", 384)
    assert narrow.dtype == torch.float32 and "192" in narrow.reason  # measured: the casts cost more than they save
    assert wide.dtype == torch.bfloat16 and wide.autocast
    assert choose_precision("cpu", 192, "bfloat16").dtype == torch.bfloat16
    assert choose_precision("cpu", 4096, "float32").dtype == torch.float32
    monkeypatch.setenv("GPT_COURSE_PRECISION", "float32")
    assert choose_precision("cpu", 4096).dtype == torch.float32
    monkeypatch.setenv("GPT_COURSE_PRECISION", "fp8")
    with pytest.raises(ValueError, match="GPT_COURSE_PRECISION"):
        choose_precision("cpu", 192)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="half")


def test_this_machine_gets_float32_unless_it_has_bf16_units(monkeypatch):
    monkeypatch.delenv("GPT_COURSE_PRECISION", raising=False)
    p = choose_precision("cpu", 192)  # the course model's width: float32 on every CPU
    assert p.dtype == torch.float32
    if not utils.cpu_has_bf16_units():
        assert torch.backends.cpu.get_cpu_capability() in p.reason


def tiny(seed=0):
    seed_everything(seed)
    model = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=16))
    data = torch.arange(400) % 16
    return model, data


def test_bfloat16_autocast_trains_and_float32_is_unchanged(monkeypatch):
    monkeypatch.delenv("GPT_COURSE_PRECISION", raising=False)
    cfg = dict(max_steps=40, batch_size=8, lr=1e-2, warmup_steps=2, eval_interval=40, eval_iters=1, progress=False)
    model, data = tiny()
    h16 = Trainer(model, data, None, TrainConfig(**cfg, precision="bfloat16")).fit()
    assert all(torch.isfinite(torch.tensor(h16.train_loss)))
    assert h16.train_loss[-1] < h16.train_loss[0] - 1.0  # a periodic sequence is easy to learn
    assert all(p.dtype == torch.float32 for p in model.parameters())  # float32 master weights
    model, data = tiny()
    auto = Trainer(model, data, None, TrainConfig(**cfg))
    model, data = tiny()
    f32 = Trainer(model, data, None, TrainConfig(**cfg, precision="float32"))
    if auto.precision.dtype == torch.float32:  # "auto" on this machine is exactly float32
        assert auto.fit().train_loss == f32.fit().train_loss


def test_torch_threads_restores_the_setting():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        with torch_threads(0):
            pass


def test_training_threads_leave_busy_cores_alone(monkeypatch):
    monkeypatch.delenv("GPT_COURSE_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    with torch_threads(4):
        monkeypatch.setattr(utils, "busy_cores_elsewhere", lambda sample_s=0.2: 0.1)
        assert training_threads()[0] == 4
        monkeypatch.setattr(utils, "busy_cores_elsewhere", lambda sample_s=0.2: 1.0)
        n, why = training_threads()
        assert n == 3 and "busy" in why
        monkeypatch.setattr(utils, "busy_cores_elsewhere", lambda sample_s=0.2: 7.5)  # overloaded: still one
        assert training_threads()[0] == 1
        monkeypatch.setattr(utils, "busy_cores_elsewhere", lambda sample_s=0.2: None)
        assert training_threads()[0] == 4
    with torch_threads(2):  # never more than torch's own setting (OMP_NUM_THREADS, set_num_threads)
        monkeypatch.setattr(utils, "busy_cores_elsewhere", lambda sample_s=0.2: 0.0)
        assert training_threads()[0] == 2
    monkeypatch.setenv("GPT_COURSE_THREADS", "3")
    assert training_threads() == (3, "GPT_COURSE_THREADS")
    monkeypatch.setenv("GPT_COURSE_THREADS", "many")
    with pytest.raises(ValueError, match="GPT_COURSE_THREADS"):
        training_threads()


def test_trainer_runs_on_the_spare_cores_and_restores_threads(monkeypatch, capsys):
    monkeypatch.delenv("GPT_COURSE_THREADS", raising=False)
    import gpt_course.train as train

    seen = []

    class Spy:
        def on_step(self, t):
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    monkeypatch.setattr(train, "training_threads", lambda: (1, "1 of 2 threads: other processes keep about 1.0 "
                                                                  "cores busy"))
    model, data = tiny()
    trainer = Trainer(model, data, None, TrainConfig(max_steps=3, batch_size=2, eval_interval=3, progress=True),
                      callbacks=[Spy()])
    trainer.fit()
    assert seen == [1, 1, 1] and torch.get_num_threads() == before
    assert "machine busy" in capsys.readouterr().err  # the progress bar says why it is slow


def test_generation_runs_on_one_thread_and_restores():
    model, _ = tiny()
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    generate(model, torch.zeros(1, 1, dtype=torch.long), max_new_tokens=3, temperature=0)
    assert seen == [1, 1, 1] and torch.get_num_threads() == before


def test_precision_is_a_small_value_object():
    p = Precision(torch.float32, "why")
    with p.context("cpu"):
        assert not torch.is_autocast_enabled("cpu")


def test_progress_bars_leave_a_readable_line_for_static_views():
    """GitHub, nbviewer and a projector without a kernel show a widget's plain-text form: after the run it must
    be the final count, not the 0% it had when the bar was first displayed."""
    import nbclient
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from gpt_course.utils import progress\nfor i in progress(range(5), desc='loop'):\n"
                                          "    pass"),
                nbformat.v4.new_code_cell("b = progress(total=10, desc='manual')\nb.update(4)\nb.close()"),
                nbformat.v4.new_code_cell("import torch, gpt_course as gc\n"
                                          "m = gc.GPT(gc.GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=1, n_embd=8))\n"
                                          "gc.Trainer(m, torch.arange(100) % 16, None, gc.TrainConfig(max_steps=5)).fit()")]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    texts = [[o["data"]["text/plain"] for o in c.outputs if o.get("output_type") == "display_data"] for c in nb.cells]
    assert texts == [["loop: 5/5 done"], ["manual: 4/10 stopped"], ["training: 5/5 done"]]
    assert all("application/vnd.jupyter.widget-view+json" in o["data"] for c in nb.cells for o in c.outputs
               if o.get("output_type") == "display_data")  # the live widget is still there
