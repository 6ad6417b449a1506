"""Training: the schedule, one loop for any loss, exact resumption (also after SIGKILL), interrupt safety,
checkpoint integrity."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from gpt_course import GPT, GPTConfig, seed_everything
from gpt_course.tokenizers import CharTokenizer
from gpt_course.checkpoint import load_checkpoint, save_checkpoint
from gpt_course.data import get_batch
from gpt_course.train import TrainConfig, Trainer, make_optimizer

TEXT = "the quick brown fox jumps over the lazy dog. " * 60


def setup(seed=0, **overrides):
    seed_everything(seed)
    tok = CharTokenizer.from_text(TEXT)
    data = torch.tensor(tok.encode(TEXT))
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.1))
    config = TrainConfig(**{"max_steps": 30, "batch_size": 8, "lr": 3e-3, "warmup_steps": 5, "eval_interval": 10,
                            "eval_iters": 2, "progress": False, **overrides})
    return model, tok, data, config


def test_schedule_warms_up_then_decays_to_min_lr():
    c = TrainConfig(max_steps=100, lr=1e-3, warmup_steps=10)
    lrs = [c.lr_at(s) for s in range(101)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])), "cosine decay never goes up"
    assert lrs[100] == pytest.approx(1e-4)


def test_bad_config_and_data_give_clear_errors():
    with pytest.raises(ValueError, match="max_steps"):
        TrainConfig(max_steps=0)
    model, tok, data, config = setup()
    with pytest.raises(ValueError, match="block_size"):
        Trainer(model, data[:10], config=config)


def test_loss_goes_down_and_history_is_complete():
    model, tok, data, config = setup(max_steps=60)
    h = Trainer(model, data, data, config).fit()
    assert len(h.train_loss) == 60 == len(h.lr) == len(h.tokens_per_sec)
    assert h.val_steps == [10, 20, 30, 40, 50, 60]
    assert h.val_loss[-1] < h.val_loss[0] - 0.5


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_resume_from_checkpoint_is_bit_identical(tmp_path, optimizer):
    model, tok, data, config = setup(optimizer=optimizer)
    full = Trainer(model, data, data, config).fit()
    model, tok, data, config = setup(optimizer=optimizer, checkpoint_path=str(tmp_path / "ck.safetensors"))
    Trainer(model, data, data, config, tok).fit(max_steps=17)  # saved at 10 and at 17
    resumed = Trainer.resume(tmp_path / "ck.safetensors", data, data)
    assert resumed.step == 17
    h = resumed.fit()
    assert h.train_loss == full.train_loss  # exact floats, dropout included
    assert h.val_loss == full.val_loss


def test_muon_option_uses_torch_muon_on_block_matrices_only():
    model, tok, data, config = setup(optimizer="muon")
    opt = Trainer(model, data, data, config).optimizer
    muon_ids = {id(p) for g in opt.muon.param_groups for p in g["params"]}
    names = {n for n, p in model.named_parameters() if id(p) in muon_ids}
    assert names and all(".h." in f".{n}" and p.dim() == 2 for n, p in model.named_parameters() if n in names)
    assert "transformer.wte.weight" not in names and "transformer.wpe.weight" not in names
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    # one step equals torch's Muon + AdamW applied by hand to a copy
    import copy
    twin = copy.deepcopy(model)
    x, y = data[:16].view(1, 16), data[1:17].view(1, 16)
    for m in (model, twin):
        m.eval()  # no dropout: both copies get the same gradients
        m(x, y)[1].backward()
    opt.step()
    tw = dict(twin.named_parameters())
    mu = torch.optim.Muon([tw[n] for n in sorted(names)], lr=config.lr, weight_decay=0.0, adjust_lr_fn="match_rms_adamw")
    rest = [p for n, p in twin.named_parameters() if n not in names]
    ad = torch.optim.AdamW([{"params": [p for p in rest if p.dim() >= 2], "weight_decay": config.weight_decay},
                            {"params": [p for p in rest if p.dim() < 2], "weight_decay": 0.0}],
                           lr=config.lr, betas=(config.beta1, config.beta2))
    mu.step(); ad.step()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p, tw[n], msg=n)
    with pytest.raises(ValueError, match="optimizer must be"):
        TrainConfig(optimizer="sgd")



def test_a_loss_fn_runs_the_same_loop_as_next_token_training():
    """The default loss is one `loss_fn`: passing it by hand gives the same losses, weights and validation."""
    model, tok, data, config = setup()
    ref = Trainer(model, data, data, config)
    h_ref = ref.fit()
    model, tok, data, config = setup()
    batches = torch.Generator().manual_seed(config.seed)
    calls = []

    def loss_fn(step):
        calls.append(step)
        x, y = get_batch(data, 16, config.batch_size, batches)
        return model(x, y)[1]

    own = Trainer(model, config=config, loss_fn=loss_fn, eval_fn=lambda: own.estimate_loss(data))
    h = own.fit()
    assert calls == list(range(30))
    assert h.train_loss == h_ref.train_loss and h.lr == h_ref.lr
    assert h.val_steps == h_ref.val_steps and h.val_loss == h_ref.val_loss
    assert h.tokens_per_sec == [] and len(h_ref.tokens_per_sec) == 30  # tokens are counted for next-token runs only
    for (name, p), q in zip(model.state_dict().items(), ref.model.state_dict().values()):
        assert torch.equal(p, q), name


def test_only_trainable_parameters_are_optimised_and_decayed_by_shape():
    model, tok, data, config = setup()
    model.transformer.h[0].requires_grad_(False)
    opt = make_optimizer(model, config)
    decay, no_decay = opt.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == config.weight_decay and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"]) and all(p.dim() == 1 for p in no_decay["params"])
    assert "transformer.wte.weight" in {names[id(p)] for p in decay["params"]}  # embeddings are matrices too
    optimised = {names[id(p)] for g in opt.param_groups for p in g["params"]}
    assert optimised == {n for n, p in model.named_parameters() if p.requires_grad}
    assert not any(n.startswith("transformer.h.0.") for n in optimised)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    Trainer(model, data, None, config).fit(max_steps=3)
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter is trainable"):
        Trainer(model, data, None, config)
    with pytest.raises(ValueError, match="loss_fn"):
        Trainer(model, config=config)


def test_a_hook_that_evaluates_does_not_stop_training_mode():
    model, tok, data, config = setup()

    class Probe:
        modes = []

        def on_step(self, trainer):
            self.modes.append(trainer.model.training)
            trainer.model.eval()

    Trainer(model, data, None, config, callbacks=[Probe()]).fit(max_steps=4)
    assert Probe.modes == [True] * 4


def test_keyboard_interrupt_keeps_model_and_saves(tmp_path, capsys):
    model, tok, data, config = setup(checkpoint_path=str(tmp_path / "ck.safetensors"), checkpoint_interval=1000)

    class StopAt:
        def on_step(self, trainer):
            if trainer.step == 12:
                raise KeyboardInterrupt

    trainer = Trainer(model, data, data, config, tok, callbacks=[StopAt()])
    h = trainer.fit()
    assert h.interrupted and trainer.step == 12 and len(h.train_loss) == 12
    assert "interrupted at step 12" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "ck.safetensors").step == 12
    trainer.callbacks = []
    assert len(trainer.fit().train_loss) == 30  # continues where it stopped



def test_keyboard_interrupt_in_a_custom_loss_run_keeps_history_and_continues(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model, tok, data, config = setup()
    batches = torch.Generator().manual_seed(0)

    def loss_fn(step):
        if step == 7 and not interrupted:
            interrupted.append(step)
            raise KeyboardInterrupt
        x, y = get_batch(data, 16, 4, batches)
        return model(x, y)[1]

    interrupted = []
    trainer = Trainer(model, config=config, loss_fn=loss_fn)
    h = trainer.fit()
    assert h.interrupted and trainer.step == 7 and len(h.train_loss) == 7
    assert "interrupted at step 7" in capsys.readouterr().out
    assert not (tmp_path / "runs").exists(), "a custom-loss run without checkpoint_path writes no checkpoint"
    assert len(trainer.fit().train_loss) == 30 and not h.interrupted


def test_crash_while_saving_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    model, tok, data, config = setup()
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, model, tokenizer=tok, step=5)
    import gpt_course.checkpoint as checkpoint_module

    def broken_save(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, "save_file", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, model, step=6)
    assert load_checkpoint(path).step == 5
    assert [p.name for p in tmp_path.iterdir()] == ["ck.safetensors"], "no temporary file left behind"


def test_corrupted_and_tampered_checkpoints_are_rejected(tmp_path):
    model, tok, data, config = setup()
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, model, tokenizer=tok)
    raw = bytearray(path.read_bytes())
    (tmp_path / "truncated.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "truncated.safetensors")
    raw[-3] ^= 0xFF  # flip bits inside the last tensor's data
    (tmp_path / "tampered.safetensors").write_bytes(raw)
    with pytest.raises(ValueError, match="SHA-256"):
        load_checkpoint(tmp_path / "tampered.safetensors")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_checkpoint_roundtrip_gives_same_logits_and_tokenizer(tmp_path):
    model, tok, data, config = setup()
    model.eval()
    save_checkpoint(tmp_path / "ck.safetensors", model, tokenizer=tok, step=3)
    ck = load_checkpoint(tmp_path / "ck.safetensors")
    idx = data[:16].unsqueeze(0)
    torch.testing.assert_close(ck.model.eval()(idx)[0], model(idx)[0], rtol=0, atol=0)
    assert ck.model.lm_head.weight is ck.model.transformer.wte.weight
    assert ck.tokenizer.decode(ck.tokenizer.encode("lazy dog")) == "lazy dog"


SCRIPT = textwrap.dedent("""
    import json, sys, torch
    sys.path.insert(0, {tests!r})
    from test_train import setup
    from gpt_course.train import Trainer
    path, out, resume = sys.argv[1], sys.argv[2], sys.argv[3] == "resume"
    torch.set_num_threads(1)
    if resume:
        model, tok, data, _ = setup()
        trainer = Trainer.resume(path, data, data)
    else:
        model, tok, data, config = setup(max_steps=400, checkpoint_path=path, checkpoint_interval=7)
        trainer = Trainer(model, data, data, config, tok)
    class Report:
        def on_step(self, t):
            print(t.step, flush=True)
    trainer.callbacks = [Report()]
    h = trainer.fit()
    json.dump(h.train_loss, open(out, "w"))
""")


def test_sigkill_at_a_random_step_then_resume_gives_identical_losses(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=os.path.dirname(__file__)))
    ck, out = tmp_path / "ck.safetensors", tmp_path / "losses.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ref = subprocess.run([sys.executable, script, tmp_path / "ref.safetensors", out, "new"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    reference = json.loads(out.read_text())
    kill_at = int(torch.randint(20, 300, (1,)).item())
    proc = subprocess.Popen([sys.executable, script, ck, tmp_path / "unused.json", "new"], env=env,
                            stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if int(line) >= kill_at:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    saved_step = load_checkpoint(ck).step
    assert 0 < saved_step <= kill_at
    res = subprocess.run([sys.executable, script, ck, out, "resume"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(out.read_text()) == reference, f"killed at {kill_at}, resumed from {saved_step}"


def test_two_layer_model_beats_the_bigram_baseline_on_wikitext(capsys):
    """A 2-layer model trained a few hundred steps on WikiText-2 train beats a smoothed bigram on valid."""
    from gpt_course.data import load_wikitext2
    from gpt_course.evaluate import bits_per_byte
    from gpt_course.ngram import NGramLM

    train_text, valid_text = load_wikitext2("train"), load_wikitext2("valid")[:30_000]
    bigram = NGramLM(2, smoothing="kneser_ney").fit(train_text).bits_per_byte(valid_text)
    seed_everything(0)
    tok = CharTokenizer.from_text(train_text + load_wikitext2("valid"), unk=" ")
    train_ids = torch.tensor(tok.encode(train_text))
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=64))
    config = TrainConfig(max_steps=800, batch_size=16, lr=3e-3, warmup_steps=20, eval_interval=200, eval_iters=5,
                         progress=False)
    h = Trainer(model, train_ids, torch.tensor(tok.encode(valid_text)), config).fit()
    neural = bits_per_byte(model, tok, valid_text)
    print(f"valid bits per byte: 2-layer GPT {neural:.3f}, Kneser-Ney bigram {bigram:.3f}")
    assert h.val_loss[-1] < h.val_loss[0] and h.train_loss[-1] < h.train_loss[0]
    assert neural < bigram
