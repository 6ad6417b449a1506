"""The widgets show exactly what the package computes, react to their controls, and survive bad input.

Controls are set from Python (`widget.head.value = 2`), which runs the same observers a click in the browser
runs; tests/test_browser.py drives the real thing in JupyterLab.
"""
import base64
import string
import struct
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.text import Text
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


@pytest.fixture(scope="module")
def wide():
    """An untrained character GPT with 29 tokens: more than the sampling explorer's 20 bars."""
    tok = CharTokenizer.from_text(string.ascii_lowercase + " .,")
    gc.seed_everything(0)
    model = gc.GPT(gc.GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=16))
    return model.eval(), tok


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


def _png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG's header."""
    return struct.unpack(">II", png[16:24])


def _text_px(w) -> list[tuple[float, str]]:
    """(height in pixels in the PNG the widget shows, text) of every visible text of its figure: the size in points
    times the resolution the PNG was saved at (its width in pixels over the figure's width in inches) / 72."""
    dpi = _png_size(w._png)[0] / w.figure.get_size_inches()[0]
    return [(t.get_fontsize() * dpi / 72, t.get_text()) for t in w.figure.findobj(Text)
            if t.get_visible() and t.get_text().strip()]


def _axes_px(w, ax) -> tuple[float, float]:
    """(width, height) of an axes in the PNG, in pixels."""
    width, height = _png_size(w._png)
    box = ax.get_position()
    return box.width * width, box.height * height


def _diverging(im) -> bool:
    """A colour map centred at 0: limits ±v, white-ish in the middle, blue at the bottom, red at the top."""
    cmap, norm = im.get_cmap(), im.norm
    return (norm.vmin == pytest.approx(-norm.vmax) and norm.vmax > 0 and min(cmap(0.5)[:3]) > 0.9
            and cmap(0.0)[2] > cmap(0.0)[0] and cmap(1.0)[0] > cmap(1.0)[2])


def _sequential(im) -> bool:
    """A colour map for values in [0, 1]: from 0, getting lighter all the way (viridis)."""
    luminance = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b, _ in im.get_cmap()(np.linspace(0, 1, 11))]
    return im.norm.vmin == 0 and bool(np.all(np.diff(luminance) > 0))


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
    ex = AttentionExplorer(model, tok, text=SENTENCE, layer=1, head=2)
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # the live widget
    assert base64.b64decode(bundle["image/png"]) == ex._png  # what GitHub or nbconvert show instead
    assert bundle["text/plain"] == repr(ex) == "AttentionExplorer(21 tokens, layer 1, head 2, view 'one head')"
    assert ex.static().data == ex._png
    assert {"gc-widget", "gc-attention"} <= set(ex._dom_classes)


def _most_focused(maps: torch.Tensor, layers=None, heads=None) -> tuple[int, int]:
    """The rule, written out: the head whose rows have the largest mean of their largest weight."""
    L, H = maps.shape[:2]
    best = max(((layer, h) for layer in (layers or range(L)) for h in (heads or range(H))),
               key=lambda lh: (maps[lh].max(dim=-1).values.mean().item(), -lh[0], -lh[1]))
    return best


def test_opens_on_the_most_focused_head_and_says_why(tiny):
    model, tok = tiny
    maps = gc.attention_maps(model, torch.tensor(tok.encode(SENTENCE)))
    focus = maps.max(dim=-1).values.mean(dim=-1)
    ex = AttentionExplorer(model, tok, text=SENTENCE)
    best = _most_focused(maps)
    assert (ex.layer.value, ex.head.value) == ex.opened_on == best and ex.picked_by_rule
    torch.testing.assert_close(ex.focus, focus)
    assert float(focus[best]) > float(focus.min())  # the heads differ: the rule picks a real winner
    assert f"Focus of this head (the largest weight of each row, averaged over the rows): <b>{focus[best]:.2f}</b>" \
        in ex.readout.value
    assert f"It opened on layer {best[0]} · head {best[1]}, the most focused head" in ex.readout.value
    ex.view.value = "all heads"  # every panel shows its focus
    titles = [ax.get_title() for ax in ex.figure.axes if ax.images]
    assert titles == [f"L{layer} H{h} · {focus[layer, h]:.2f}" for layer in range(2) for h in range(4)]


@pytest.mark.parametrize("layer, head", [(0, 0), (1, 3), (1, None), (None, 2)])
def test_layer_and_head_given_are_obeyed(tiny, layer, head):
    model, tok = tiny
    maps = gc.attention_maps(model, torch.tensor(tok.encode(SENTENCE)))
    ex = AttentionExplorer(model, tok, text=SENTENCE, layer=layer, head=head)
    expected = _most_focused(maps, None if layer is None else [layer], None if head is None else [head])
    assert (ex.layer.value, ex.head.value) == expected
    assert ex.picked_by_rule == (layer is None or head is None)
    torch.testing.assert_close(ex.current_map, maps[expected])
    if not ex.picked_by_rule:
        assert f"It opened on layer {layer} · head {head}, as it was told" in ex.readout.value


def test_a_bad_first_text_leaves_the_rule_for_the_first_good_one(tiny):
    model, tok = tiny
    ex = AttentionExplorer(model, tok, text="¿?")
    assert _shows_error(ex)
    ex.text.value = SENTENCE
    maps = gc.attention_maps(model, torch.tensor(tok.encode(SENTENCE)))
    assert (ex.layer.value, ex.head.value) == _most_focused(maps) and _shows_picture(ex)


@pytest.mark.parametrize("view", AttentionExplorer.VIEWS)
def test_attention_colour_scale_is_sequential_and_explained(tiny, view):
    model, tok = tiny
    ex = AttentionExplorer(model, tok, text=SENTENCE, view=view)
    images = [im for ax in ex.figure.axes for im in ax.images]
    assert images and all(_sequential(im) for im in images)  # weights are in [0, 1]: no diverging map
    labels = [ax.get_ylabel() for ax in ex.figure.axes if ax.get_ylabel().startswith("attention weight (each")]
    assert len(labels) == 1 and labels[0].startswith("attention weight (each row sums to 1)")
    assert "the 99th percentile" in labels[0]  # why the bar has an arrow: colours stop below the largest weight


def test_attention_error_clears_tokens_and_keeps_the_chosen_token(tiny):
    model, tok = tiny
    ex = AttentionExplorer(model, tok, text=SENTENCE, layer=1, head=1)
    ex.token.value = 3
    ex.text.value = "THE DOG"
    assert _shows_error(ex) and ex.figure is None and ex._png is None
    assert ex.tokens == [] and ex.ids == [] and ex.maps is None and ex.focus is None
    assert ex.token.options == () and ex.readout.value == ""  # no token list or readout of the old text
    ex.text.value = "a dog met a cat"
    assert _shows_picture(ex) and ex.selected_token == 3 and (ex.layer.value, ex.head.value) == (1, 1)


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


def test_the_rest_of_the_vocabulary_is_one_more_bar(wide):
    model, tok = wide
    ex = SamplingExplorer(model, tok, prompt="the cat ", top_k=3, n_samples=1, max_new_tokens=2)
    other = ex.bars["other"]
    assert len(ex.bars["ids"]) == 20 and other["tokens"] == tok.vocab_size - 20 == 9
    for when, dist in (("before", ex.distribution_before), ("after", ex.distribution_after)):
        assert float(ex.bars[when].sum()) + other[when] == pytest.approx(1.0, abs=1e-6)  # the bars sum to 1
        rest = torch.ones(tok.vocab_size, dtype=torch.bool)
        rest[ex.bars["ids"]] = False
        assert other[when] == pytest.approx(float(dist[rest].sum()), abs=1e-6)
    assert other["before"] > 0.1  # an untrained model spreads its mass: the rest matters
    rest_axes = ex.figure.axes[1]
    heights = [c.datavalues[0] for c in rest_axes.containers]
    assert heights == pytest.approx([other["before"], other["after"]])
    assert [t.get_text() for t in rest_axes.get_xticklabels()] == ["other\n9"]
    assert f"the other 9 tokens together {other['before']:.1%} and {other['after']:.1%}" in ex.readout.value


def _bar_containers(ax) -> dict:
    return {c.get_label(): c for c in ax.containers}


@pytest.mark.parametrize("penalty", [1.0, 1.5])
def test_repetition_penalty_marks_exactly_the_tokens_of_the_context(tiny, penalty):
    model, tok = tiny
    prompt = "the cat sat on the "
    ex = SamplingExplorer(model, tok, prompt=prompt, repetition_penalty=penalty, n_samples=1, max_new_tokens=2)
    context = sorted(set(tok.encode(prompt))) if penalty != 1.0 else []
    assert ex.penalised == context
    shown = ex.bars["ids"].tolist()
    marked = [t for t, hit in zip(shown, ex.bars["penalised"].tolist()) if hit]
    assert sorted(marked) == sorted(t for t in shown if t in context)  # every bar shown: vocab 14 < 20
    ax = ex.figure.axes[0]
    bars = _bar_containers(ax)
    hatched = [t for t, patch in zip(shown, bars["sampled from (after)"].patches) if patch.get_hatch()]
    red = [t for t, label in zip(shown, ax.get_xticklabels()) if label.get_color() == "C3"]
    assert hatched == red == [t for t in shown if t in context]
    idx = torch.tensor([tok.encode(prompt)])
    with torch.no_grad():
        logits = model(idx)[0][:, -1, :]
    without = torch.softmax(process_logits(logits, idx, repetition_penalty=1.0), -1)[0]
    torch.testing.assert_close(ex.distribution_without_penalty, without)
    if penalty == 1.0:
        assert "in the context: without the penalty" not in bars and "penalty hits" not in ex.readout.value
        return
    dashed = bars["in the context: without the penalty"].datavalues  # the height each had before the penalty
    np.testing.assert_allclose(dashed, [float(without[t]) for t in hatched], rtol=1e-5)
    assert ex.distribution_after[context].sum() < without[context].sum()  # the penalty took mass from them
    assert f"The penalty hits the {len(context)} tokens already in the context" in ex.readout.value


def test_penalised_tokens_outside_the_bars_are_counted(wide):
    model, tok = wide
    ex = SamplingExplorer(model, tok, prompt="the quick brown fox jumps", repetition_penalty=2.0, n_samples=1,
                          max_new_tokens=2)
    context = set(tok.encode("the quick brown fox jumps"))
    shown = set(ex.bars["ids"].tolist())
    inside = len(context & shown)
    assert int(ex.bars["penalised"].sum()) == inside and 0 < inside < len(context)
    assert (f"the {len(context)} tokens already in the context ({inside} of them among the bars, hatched; "
            f"{len(context) - inside} in the rest)") in ex.readout.value


@pytest.mark.parametrize("bad, says", [
    ("", "empty"),
    ("THE CAT", "cannot encode"),
    ("the cat sat on the mat. " * 2, "at most block_size = 32"),
])
def test_sampling_bad_prompt_shows_a_message_then_recovers(tiny, bad, says):
    model, tok = tiny
    ex = SamplingExplorer(model, tok, prompt="the ", n_samples=2, max_new_tokens=5)
    assert ex.samples and ex.sample_boxes.children and ex.metrics_line.value
    ex.prompt.value = bad
    assert _shows_error(ex) and says in ex.error and ex.distribution_after is None
    # nothing of the last good prompt is left next to the message: no samples, bars, metrics or figure
    assert ex.samples == [] and ex.sample_ids is None and ex.sample_boxes.children == ()
    assert ex.metrics == {} and ex.metrics_line.value == "" and ex.readout.value == ""
    assert ex.bars is None and ex.penalised == [] and ex.figure is None
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


@pytest.mark.parametrize("kind", ["sinusoidal", "learned", "rope", "alibi"])
def test_signed_values_get_a_diverging_map_centred_at_0(tiny, kind):
    model, _ = tiny
    ex = PositionalEncodingExplorer(model, kind=kind)
    images = [im for ax in ex.figure.axes for im in ax.images]
    assert len(images) == 2 and all(_diverging(im) for im in images)
    for im in images:  # the limits are ±max|value| of what the panel shows: its whole range, 0 in the middle
        data = np.ma.compressed(im.get_array())
        assert im.norm.vmax == pytest.approx(np.abs(data).max(), rel=1e-5) or im.norm.vmax == 1.0
    assert all(ax.get_ylabel().endswith("(white = 0)") for ax in ex.figure.axes if ax.get_label() == "<colorbar>")


def _readable(ex, min_width=900):
    """Every text at least 11 px high in the PNG, the figure at least `min_width` px wide and at most 1000."""
    width, height = _png_size(ex._png)
    assert min_width <= width <= 1000
    sizes = _text_px(ex)
    assert sizes and min(sizes)[0] >= 11, f"text smaller than 11 px: {sorted(sizes)[:5]}"
    return width, height


@pytest.mark.parametrize("view", AttentionExplorer.VIEWS)
@pytest.mark.parametrize("T", [21, 32])
def test_attention_figure_is_readable_on_a_projector(tiny, view, T):
    model, tok = tiny
    text = (SENTENCE + " " + SENTENCE)[:T]
    ex = AttentionExplorer(model, tok, text=text, view=view)
    width, height = _readable(ex)
    heatmaps = [ax for ax in ex.figure.axes if ax.images]
    if view == "one head":
        assert height >= 400
        map_w, map_h = _axes_px(ex, heatmaps[0])
        assert map_w >= 350 and map_h >= 350
        assert min(_axes_px(ex, ex.figure.axes[1])) >= 200  # the bars of the chosen token
    else:
        assert min(min(_axes_px(ex, ax)) for ax in heatmaps) >= 150
    ticks = [t for t in heatmaps[0].get_yticklabels() if t.get_text()]
    assert len(ticks) >= min(T, _axes_px(ex, heatmaps[0])[1] // 30)  # labels are thinned out, not dropped
    boxes = sorted((t.get_window_extent().y0, t.get_window_extent().y1) for t in ticks)
    assert all(below[1] <= above[0] + 0.5 for below, above in zip(boxes, boxes[1:]))  # and they do not overlap


def test_sampling_figure_is_readable_on_a_projector(wide):
    model, tok = wide
    ex = SamplingExplorer(model, tok, prompt="the cat ", repetition_penalty=1.5, n_samples=1, max_new_tokens=2)
    width, height = _readable(ex)
    assert height >= 400
    bars_w, bars_h = _axes_px(ex, ex.figure.axes[0])
    assert bars_w >= 600 and bars_h >= 250
    legend = ex.figure.axes[0].get_legend()
    assert len(legend.get_texts()) == 4 and all(px >= 11 for px, text in _text_px(ex) if "context" in text)


@pytest.mark.parametrize("kind", ["sinusoidal", "learned", "rope", "alibi"])
def test_positional_figure_is_readable_on_a_projector(tiny, kind):
    model, _ = tiny
    ex = PositionalEncodingExplorer(model, kind=kind)
    width, height = _readable(ex)
    assert height >= 650  # four panels: 2 × 2
    panels = [ax for ax in ex.figure.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 4
    for ax in panels:
        panel_w, panel_h = _axes_px(ex, ax)
        assert panel_w >= 280 and panel_h >= 220


def test_positional_learned_without_a_table_is_a_message(tiny):
    _, tok = tiny
    rope_model = gc.GPT(gc.GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16,
                                     pos_encoding="rope"))
    ex = PositionalEncodingExplorer(rope_model)
    ex.kind.value = "learned"
    assert _shows_error(ex) and "no learned position table" in ex.error
    assert ex.matrix is None and ex.similarity is None and ex.figure is None  # not the last good table
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
    ex.text.value = "word " * (2 * model.config.block_size)
    assert f"at most block_size = {model.config.block_size}" in ex.error
    sampler = SamplingExplorer(model, tok, n_samples=2, max_new_tokens=20)
    assert sampler.error is None and len(sampler.samples) == 2 and sampler.metrics["mean log-likelihood"] < 0
    positions = PositionalEncodingExplorer(model, kind=model.config.pos_encoding)
    assert positions.error is None and positions.matrix.shape[0] == model.config.block_size
    assert time.perf_counter() - t0 < 60
