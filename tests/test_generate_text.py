"""generate_text: text in, text out, the same tokens as `generate` and the same random numbers."""
import pytest
import torch

from gpt_course import GPT, GPTConfig
from gpt_course.generate import generate, generate_text
from gpt_course.tokenizers import ByteTokenizer

TOK = ByteTokenizer()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=256, block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()


def _reference(model, prompt_ids, n, max_new_tokens, **sampling):
    out = generate(model, torch.tensor([prompt_ids] * n), max_new_tokens, **sampling)
    return [TOK.decode(row[len(prompt_ids):].tolist()) for row in out]


def test_text_is_the_decoded_continuation_of_generate(model):
    ids = TOK.encode("hello")
    expected = _reference(model, ids, 1, 12, temperature=0.9, generator=torch.Generator().manual_seed(3))[0]
    got = generate_text(model, TOK, "hello", 12, temperature=0.9, generator=torch.Generator().manual_seed(3))
    assert got == expected and got
    assert generate_text(model, TOK, ids, 12, temperature=0.9, generator=torch.Generator().manual_seed(3)) == got


def test_samples_side_by_side_use_one_generator(model):
    kw = dict(temperature=1.0, top_k=20)
    got = generate_text(model, TOK, "ab", 10, num_samples=3, generator=torch.Generator().manual_seed(1), **kw)
    assert isinstance(got, list) and len(got) == 3
    assert got == _reference(model, TOK.encode("ab"), 3, 10, generator=torch.Generator().manual_seed(1), **kw)
    one = generate_text(model, TOK, "ab", 10, num_samples=1, generator=torch.Generator().manual_seed(1), **kw)
    assert isinstance(one, list) and len(one) == 1


def test_stop_cuts_before_the_first_occurrence(model):
    full = generate_text(model, TOK, "x", 15, temperature=0.0)
    stop = full[3:5]  # a piece of the greedy text itself, so the cut happens
    cut = generate_text(model, TOK, "x", 15, temperature=0.0, stop=stop)
    assert cut == full.split(stop, 1)[0] and len(cut) < len(full)


def test_fit_window_keeps_the_end_of_a_long_prompt(model):
    prompt = "abcdefghijklmnopqrstuvwxyz"  # 26 tokens, block_size 16
    got = generate_text(model, TOK, prompt, 6, temperature=0.0, fit_window=True)
    assert got == _reference(model, TOK.encode(prompt)[-10:], 1, 6, temperature=0.0)[0]
