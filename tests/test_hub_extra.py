"""Hugging Face interop beyond logits: the library's greedy `generate` and a safetensors save/load round trip."""
import pytest
import torch

from gpt_course import GPT, GPTConfig, generate
from gpt_course.hub import from_hf, to_hf

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

CONFIG = GPTConfig(vocab_size=101, block_size=32, n_layer=2, n_head=3, n_embd=48)


def _model(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(CONFIG).eval()


@pytest.mark.parametrize("batch, prompt_len, n_new", [(1, 4, 20), (3, 1, 12), (2, 10, 22)])
def test_hf_greedy_generate_equals_course_greedy(batch, prompt_len, n_new):
    model = _model()
    hf = to_hf(model)
    idx = torch.randint(0, CONFIG.vocab_size, (batch, prompt_len), generator=torch.Generator().manual_seed(1))
    theirs = hf.generate(idx, attention_mask=torch.ones_like(idx), max_new_tokens=n_new, do_sample=False,
                         pad_token_id=0)
    assert torch.equal(theirs, generate(model, idx, n_new, temperature=0))


def test_save_pretrained_safetensors_roundtrip(tmp_path):
    model = _model(2)
    hf = to_hf(model)
    hf.save_pretrained(tmp_path, safe_serialization=True)
    assert (tmp_path / "model.safetensors").is_file()
    assert not list(tmp_path.glob("*.bin")), "weights must be stored as safetensors, not pickles"
    reloaded = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    idx = torch.randint(0, CONFIG.vocab_size, (2, CONFIG.block_size), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(reloaded(idx).logits, hf(idx).logits)
        back = from_hf(reloaded).eval()
        assert torch.equal(back(idx)[0], model(idx)[0])
    ours, again = model.state_dict(), back.state_dict()
    assert ours.keys() == again.keys() and all(torch.equal(ours[k], again[k]) for k in ours)


def test_from_pretrained_offline_fails_at_once_with_advice(monkeypatch):
    """Offline (HF_HUB_OFFLINE) and without a cached copy, loading GPT-2 opens no connection (no retries) and
    raises a RuntimeError that tells the learner what to do."""
    import socket

    import huggingface_hub

    from gpt_course.hub import from_pretrained

    if isinstance(huggingface_hub.try_to_load_from_cache("gpt2", "config.json"), str):
        pytest.skip("GPT-2 is in this machine's Hugging Face cache")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(RuntimeError, match="internet access"):
        from_pretrained("gpt2")
    assert attempts == [], "offline mode must not try the network"


def test_from_pretrained_rejects_unknown_names():
    from gpt_course.hub import from_pretrained

    with pytest.raises(ValueError, match="gpt2-medium"):
        from_pretrained("gpt-5")


def test_from_pretrained_without_network_fails_fast_even_without_offline_flags(monkeypatch):
    """No offline switch set and no network: one quick connection test, then a clear error (no long retries)."""
    import socket
    import time

    import huggingface_hub

    from gpt_course.hub import from_pretrained

    if isinstance(huggingface_hub.try_to_load_from_cache("gpt2", "config.json"), str):
        pytest.skip("GPT-2 is in this machine's Hugging Face cache")
    for var in ("GPT_COURSE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    attempts = []

    def no_network(address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "create_connection", no_network)
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match="cannot be reached"):
        from_pretrained("gpt2")
    assert attempts == [("huggingface.co", 443)]
    assert time.perf_counter() - t0 < 10
