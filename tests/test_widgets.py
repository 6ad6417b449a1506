"""The widgets show exactly what the package computes, react to their controls, and survive bad input.

Controls are set from Python (`widget.head.value = 2`), which runs the same observers a click in the browser
runs; tests/test_browser.py drives the real thing in JupyterLab.
"""
import base64
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import gpt_course as gc
from gpt_course import widgets
from gpt_course.data import get_batch
from gpt_course.evaluate import distinct_n
from gpt_course.generate import process_logits
from gpt_course.positional import RotaryEmbedding, alibi_bias, alibi_slopes
from gpt_course.tokenizers import CharTokenizer
from gpt_course.widgets import AttentionExplorer, PositionalEncodingExplorer, SamplingExplorer

TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat. " * 12
SENTENCE = "the dog sat on a mat."


def _train(model, tok, steps=40):
    ids = torch.tensor(tok.encode(TEXT))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x, y = get_batch(ids, model.config.block_size, 16, g)
        loss = model(x, y)[1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def tiny():
    """A character GPT trained for a moment on a small text, so that its distributions are far from uniform."""
    tok = CharTokenizer.from_text(TEXT)
    gc.seed_everything(0)
    model = gc.GPT(gc.GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=4, n_embd=32))
    return _train(model, tok), tok


def _entropy(p: torch.Tensor) -> float:
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def _shows_error(w) -> bool:
    return (w.error is not None and "gc-error" in w.message._dom_classes and w.message.layout.display != "none"
            and w.message.value != "" and w.plot.outputs == () and w.static() == w.error)


def _shows_picture(w) -> bool:
    png = base64.b64decode(w.plot.outputs[0]["data"]["image/png"])
    return (w.error is None and w.message.layout.display == "none" and png.startswith(b"\x89PNG")
            and png == w._png)


# ----------------------------------------------------------------------------------------------
# AttentionExplorer


def test_layer_and_head_selectors_show_that_layers_head(tiny):
    model, tok = tiny
    ex = AttentionExplorer(model, tok, text=SENTENCE)
    maps = gc.attention_maps(model, torch.tensor(tok.encode(SENTENCE)))
    assert ex.maps.shape == (2, 4, len(SENTENCE), len(SENTENCE)) and ex.tokens == list(SENTENCE)
    pictures = set()
    for layer in range(2):
        for head in range(4):
            ex.layer.value, ex.head.value = layer, head
            torch.testing.assert_close(ex.current_map, maps[layer, head], rtol=0, atol=0)
            np.testing.assert_array_equal(ex.figure.axes[0].images[0].get_array().data, maps[layer, head].numpy())
            assert ex.readout.value.startswith(f"layer {layer} · head {head} · {len(SENTENCE)} tokens")
            assert _shows_picture(ex)
            pictures.add(ex._png)
    assert len(pictures) == 8  # every head is drawn differently


def test_maps_are_computed_once_per_text_and_cached(tiny, monkeypatch):
    model, tok = tiny
    calls = []
    real = widgets.attention_maps
    monkeypatch.setattr(widgets, "attention_maps", lambda m, idx: calls.append(idx) or real(m, idx))
    ex = AttentionExplorer(model, tok, text=SENTENCE)
    ex.layer.value, ex.head.value, ex.token.value, ex.view.value = 1, 3, 2, "all heads"
    assert len(calls) == 1  # controls only redraw
    ex.text.value = "a cat met a dog."
    ex.text.value = SENTENCE  # seen before: from the cache
    assert len(calls) == 2


def test_causal_mask_is_grey_and_hatched_exactly_on_the_future(tiny):
    model, tok = tiny
    ex = AttentionExplorer(model, tok, text=SENTENCE)
    ax = ex.figure.axes[0]
    T = len(SENTENCE)
    image = ax.images[0].get_array()
    np.testing.assert_array_equal(np.ma.getmaskarray(image), ~gc.causal_mask(T).numpy())
    (hatch,) = [p for p in ax.patches if p.get_hatch() == "///"]
    cells = np.array([(j, i) for i in range(T) for j in range(T)], dtype=float)  # (x = key, y = query)
    inside = hatch.get_path().contains_points(cells).reshape(T, T)
    np.testing.assert_array_equal(inside, ~gc.causal_mask(T).numpy())


def test_token_selector_shows_what_that_token_attends_to(tiny):
    model, tok = tiny
    ex = AttentionExplorer(model, tok, text=SENTENCE, layer=1, head=2)
    assert ex.selected_token == len(SENTENCE) - 1  # the last token (it sees the whole text) by default
    ex.token.value = 4
    row = ex.current_map[4]
    bars = ex.figure.axes[1].containers[0].datavalues  # the keys token 4 may see: 0..4
    np.testing.assert_allclose(bars, row[:5].numpy())
    assert float(row[5:].sum()) == 0.0
    best = int(row.argmax())
    label = SENTENCE[best].replace(" ", "␣")
    assert f"(position 4) attends most to <b>{label}</b> (position {best}, weight {row[best]:.2f})" in ex.readout.value
    red = [p for p in ex.figure.axes[0].patches if p.get_edgecolor()[:3] == (1.0, 0.0, 0.0)]
    assert len(red) == 1 and red[0].get_y() == 4 - 0.5  # the chosen row is outlined


def test_all_heads_view_draws_every_layer_and_head(tiny):
    model, tok = tiny
    ex = AttentionExplorer(model, tok, text=SENTENCE, view="all heads")
    images = [ax.images[0].get_array().data for ax in ex.figure.axes if ax.images]
    assert len(images) == 2 * 4
    for k, image in enumerate(images):
        np.testing.assert_array_equal(image, ex.maps[k // 4, k % 4].numpy())
    ex.view.value = "one head"
    assert len([ax for ax in ex.figure.axes if ax.images]) == 1


@pytest.mark.parametrize("bad, says", [
    ("", "empty"),
    ("   ", "empty"),
    ("The DOG!", "cannot encode"),
    ("the cat sat on the mat. " * 3, "at most block_size = 32"),
])
def test_attention_bad_text_shows_a_message_then_recovers(tiny, bad, says):
    model, tok = tiny
    ex = AttentionExplorer(model, tok, text=SENTENCE)
    ex.text.value = bad
    assert _shows_error(ex) and says in ex.error and ex.current_map is None
    ex.head.value = 2  # the other controls keep working and keep the message
    assert _shows_error(ex)
    ex.text.value = "a dog"
    assert _shows_picture(ex) and ex.current_map.shape == (5, 5) and ex.head.value == 2


def test_bad_text_given_to_the_constructor_is_a_message_not_an_exception(tiny):
    model, tok = tiny
    ex = AttentionExplorer(model, tok, text="¿?")
    assert _shows_error(ex) and "cannot encode" in ex.error
    ex.text.value = SENTENCE
    assert _shows_picture(ex)


def test_a_model_without_attention_layers_is_reported_in_the_widget(tiny):
    _, tok = tiny
    model = gc.GPT(gc.GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=16))
    model.transformer.h = nn.ModuleList()  # a GPT with its blocks taken out
    ex = AttentionExplorer(model, tok, text=SENTENCE)
    assert _shows_error(ex) and "no MultiHeadAttention layers" in ex.error
    ex.text.value = "a cat"  # still a message, still no traceback
    assert _shows_error(ex)


def test_redraw_at_256_tokens_reuses_the_maps(tiny, monkeypatch, capsys):
    _, tok = tiny
    gc.seed_everything(0)
    model = gc.GPT(gc.GPTConfig(vocab_size=tok.vocab_size, block_size=256, n_layer=2, n_head=4, n_embd=32)).eval()
    calls = []
    real = widgets.attention_maps
    monkeypatch.setattr(widgets, "attention_maps", lambda m, idx: calls.append(idx) or real(m, idx))
    ex = AttentionExplorer(model, tok, text=TEXT[:256])
    assert ex.maps.shape == (2, 4, 256, 256)
    times = []
    for head in (1, 2, 3):
        ex.head.value = head
        times.append(ex.last_redraw_seconds)
    ex.view.value = "all heads"
    grid = ex.last_redraw_seconds
    assert len(calls) == 1 and _shows_picture(ex)
    with capsys.disabled():
        print(f"\nAttentionExplorer redraw at T=256: one head {min(times):.2f}-{max(times):.2f} s, "
              f"all 8 heads {grid:.2f} s")
    assert max(times) < 10  # drawing each masked cell as its own patch took minutes here


def test_static_picture_for_viewers_without_a_kernel(tiny):
    model, tok = tiny
    ex = AttentionExplorer(model, tok, text=SENTENCE)
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # the live widget
    assert base64.b64decode(bundle["image/png"]) == ex._png  # what GitHub or nbconvert show instead
    assert bundle["text/plain"] == repr(ex) == "AttentionExplorer(21 tokens, layer 0, head 0, view 'one head')"
    assert ex.static().data == ex._png
    assert {"gc-widget", "gc-attention"} <= set(ex._dom_classes)


def test_widgets_sit_on_top_of_the_package():
    """No module of gpt_course imports the widgets (they need ipywidgets; the model code must not)."""
    import ast
    from pathlib import Path

    package = Path(gc.__file__).parent
    for path in package.rglob("*.py"):
        if path.name == "widgets.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [f"{'.' * node.level}{node.module or ''}"] + [a.name for a in node.names]
            assert not any(n.split(".")[-1] == "widgets" for n in names), f"{path.name} imports the widgets"


# ----------------------------------------------------------------------------------------------
# SamplingExplorer


def test_distributions_are_process_logits_of_the_model(tiny):
    model, tok = tiny
    ex = SamplingExplorer(model, tok, prompt="the ca", temperature=0.7, top_k=5, top_p=0.9, repetition_penalty=1.3)
    idx = torch.tensor([tok.encode("the ca")])
    logits = model(idx)[0][:, -1, :]
    torch.testing.assert_close(ex.distribution_before, torch.softmax(logits, -1)[0])
    expected = torch.softmax(process_logits(logits, idx, 0.7, 5, 0.9, 1.3), -1)[0]
    torch.testing.assert_close(ex.distribution_after, expected)
    top = torch.argsort(ex.distribution_before, descending=True)[: ex.SHOWN]
    torch.testing.assert_close(ex.bars["after"], expected[top])


def test_higher_temperature_flattens_the_distribution(tiny):
    model, tok = tiny
    ex = SamplingExplorer(model, tok, prompt="the ca", n_samples=1, max_new_tokens=2)
    entropies = []
    for t in (0.3, 0.7, 1.0, 1.5, 2.0):
        ex.temperature.value = t
        entropies.append(_entropy(ex.distribution_after))
        assert ex.metrics["entropy after"] == pytest.approx(entropies[-1], abs=1e-5)
    assert entropies == sorted(entropies) and entropies[-1] > entropies[0] + 0.5
    assert f"temperature {2.0:.2f}" in ex.readout.value


def test_top_k_1_leaves_one_bar_and_greedy_samples(tiny):
    model, tok = tiny
    ex = SamplingExplorer(model, tok, prompt="the ", n_samples=3, max_new_tokens=12)
    ex.top_k.value = 1
    assert int((ex.distribution_after > 0).sum()) == 1
    assert int((ex.bars["after"] > 0).sum()) == 1 and ex.metrics["tokens kept"] == 1
    greedy = gc.generate(model, torch.tensor([tok.encode("the ")]), 12, temperature=0)
    assert ex.samples == [tok.decode(greedy[0, 4:].tolist())] * 3
    assert "<b>1</b> of" in ex.readout.value


def test_smaller_top_p_keeps_fewer_tokens(tiny):
    model, tok = tiny
    ex = SamplingExplorer(model, tok, prompt="the ", n_samples=1, max_new_tokens=2, temperature=1.5)
    kept = []
    for p in (1.0, 0.9, 0.5, 0.1):
        ex.top_p.value = p
        kept.append(int((ex.bars["after"] > 0).sum()))
    assert kept == sorted(kept, reverse=True) and kept[-1] < kept[0]
    assert kept[-1] == 1  # 10% of the mass: the top token alone


def test_repetition_penalty_lowers_tokens_of_the_prompt(tiny):
    model, tok = tiny
    ex = SamplingExplorer(model, tok, prompt="the cat sat on the ", n_samples=1, max_new_tokens=2)
    seen = sorted(set(tok.encode("the cat sat on the ")))
    before = ex.distribution_after[seen].sum()
    ex.repetition_penalty.value = 2.0
    assert ex.distribution_after[seen].sum() < before


def test_same_seed_same_samples(tiny):
    model, tok = tiny
    ex = SamplingExplorer(model, tok, prompt="a ", n_samples=3, max_new_tokens=20, seed=5)
    first = list(ex.samples)
    g = torch.Generator().manual_seed(5)
    direct = gc.generate(model, torch.tensor([tok.encode("a ")] * 3), 20, generator=g)
    assert first == [tok.decode(row[2:].tolist()) for row in direct]  # the same code path as gc.generate
    assert len(set(first)) > 1  # N different samples side by side
    ex.resample.click()
    assert ex.seed.value == 6 and ex.samples != first
    ex.seed.value = 5
    assert ex.samples == first
    assert [b.value.count("sample ") for b in ex.sample_boxes.children] == [1, 1, 1]
    assert all("gc-sample" in b._dom_classes for b in ex.sample_boxes.children)


def test_metrics_are_distinct_n_and_log_likelihood(tiny):
    model, tok = tiny
    # 8 + 40 tokens > block_size 32: the later tokens were drawn from a sliding window, and are scored so
    ex = SamplingExplorer(model, tok, prompt="the dog ", n_samples=2, max_new_tokens=40, seed=1)
    assert ex.metrics["distinct-1"] == distinct_n(ex.samples, 1)
    assert ex.metrics["distinct-2"] == distinct_n(ex.samples, 2)
    prompt = tok.encode("the dog ")
    for k, cont in enumerate(ex.sample_ids.tolist()):
        seq = prompt + cont
        logp = [F.log_softmax(model(torch.tensor([seq[max(0, t - 32):t]]))[0][0, -1], -1)[seq[t]].item()
                for t in range(len(prompt), len(seq))]
        assert ex.metrics["log-likelihood per sample"][k] == pytest.approx(sum(logp) / len(logp), abs=1e-4)
    assert ex.metrics["mean log-likelihood"] == pytest.approx(np.mean(ex.metrics["log-likelihood per sample"]))
    assert "distinct-1" in ex.metrics_line.value and "gc-metrics" in ex.metrics_line._dom_classes


@pytest.mark.parametrize("bad, says", [
    ("", "empty"),
    ("THE CAT", "cannot encode"),
    ("the cat sat on the mat. " * 2, "at most block_size = 32"),
])
def test_sampling_bad_prompt_shows_a_message_then_recovers(tiny, bad, says):
    model, tok = tiny
    ex = SamplingExplorer(model, tok, prompt="the ", n_samples=2, max_new_tokens=5)
    ex.prompt.value = bad
    assert _shows_error(ex) and says in ex.error and ex.distribution_after is None
    ex.temperature.value = 0.5
    ex.seed.value = 3
    assert _shows_error(ex)
    ex.prompt.value = "a cat "
    assert _shows_picture(ex) and len(ex.samples) == 2 and ex.error is None


# ----------------------------------------------------------------------------------------------
# PositionalEncodingExplorer


def test_positional_matrices_are_the_package_encodings(tiny):
    model, _ = tiny
    ex = PositionalEncodingExplorer(model)
    L, C, H = 32, 32, 4
    torch.testing.assert_close(ex.matrix, gc.sinusoidal_encoding(L, C))
    unit = F.normalize(ex.matrix, dim=1)
    torch.testing.assert_close(ex.similarity, unit @ unit.T)

    ex.kind.value = "learned"
    torch.testing.assert_close(ex.matrix, model.transformer.wpe.weight.detach())

    ex.kind.value = "rope"
    x = torch.zeros(L, C // H)
    x[:, 0::2] = 1.0
    torch.testing.assert_close(ex.matrix, RotaryEmbedding(C // H, L)(x))
    theta = 1.0 / 10000 ** (torch.arange(0, C // H, 2) / (C // H))
    offset = torch.arange(L)[:, None] - torch.arange(L)[None, :]
    rel = torch.cos(offset[..., None] * theta).mean(-1)  # depends on i - j only: relative positions
    torch.testing.assert_close(ex.similarity, rel, atol=1e-5, rtol=0)

    ex.kind.value = "alibi"
    torch.testing.assert_close(ex.matrix, alibi_bias(H, L))
    ex.dim.value = 3
    assert ex.dim.description == "head" and ex.dim.max == H - 1
    assert f"slope {alibi_slopes(H)[3].item():.4f}" in ex.readout.value


def test_positional_sliders_redraw_without_recomputing(tiny):
    model, _ = tiny
    ex = PositionalEncodingExplorer(model, kind="sinusoidal")
    matrix, png = ex.matrix, ex._png
    ex.position.value, ex.dim.value = 20, 7
    assert ex.matrix is matrix and ex._png != png
    assert f"position 20 · dimension 7 = {float(matrix[20, 7]):+.3f}" in ex.readout.value
    near = ex.similarity[20].clone()
    near[20] = -2
    assert f"most similar other position is {int(near.argmax())}" in ex.readout.value


def test_positional_learned_without_a_table_is_a_message(tiny):
    _, tok = tiny
    rope_model = gc.GPT(gc.GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16,
                                     pos_encoding="rope"))
    ex = PositionalEncodingExplorer(rope_model)
    ex.kind.value = "learned"
    assert _shows_error(ex) and "no learned position table" in ex.error
    ex.position.value = 3
    assert _shows_error(ex)
    ex.kind.value = "rope"
    assert _shows_picture(ex) and ex.matrix.shape == (16, 8)


# ----------------------------------------------------------------------------------------------
# The course model (once)


def test_course_model_defaults():
    from gpt_course.checkpoint import checkpoint_path

    if not checkpoint_path().exists():
        pytest.skip(f"no course checkpoint at {checkpoint_path()} (python -m gpt_course.pretrain makes it)")
    t0 = time.perf_counter()
    ex = AttentionExplorer()  # gc.load_course_model()
    model, tok = ex.model, ex.tokenizer
    idx = torch.tensor(tok.encode(widgets.DEFAULT_TEXT))
    maps = gc.attention_maps(model, idx)
    assert ex.maps.shape == (4, 6, len(idx), len(idx)) and ex.tokens[1] == tok.token_str(int(idx[1]))
    ex.layer.value, ex.head.value = 3, 5
    torch.testing.assert_close(ex.current_map, maps[3, 5])
    ex.text.value = "word " * 100
    assert "at most block_size = 96" in ex.error
    sampler = SamplingExplorer(model, tok, n_samples=2, max_new_tokens=20)
    assert sampler.error is None and len(sampler.samples) == 2 and sampler.metrics["mean log-likelihood"] < 0
    positions = PositionalEncodingExplorer(model, kind="learned")
    torch.testing.assert_close(positions.matrix, model.transformer.wpe.weight.detach())
    assert time.perf_counter() - t0 < 60
