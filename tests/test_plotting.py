"""The plotting helpers draw exactly the weights they are given, with the causal mask visible."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import gpt_course as gc  # noqa: E402
from gpt_course.plotting import attention_heatmap, heads_grid, inferred_mask, token_label, token_ticks  # noqa: E402

TOKENS = ["the", "cat", "sat", "on", "a", "mat"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _causal_weights(T: int, heads: int | None = None) -> torch.Tensor:
    shape = (T, T) if heads is None else (heads, T, T)
    _, w = gc.scaled_dot_product_attention(*(torch.randn(*shape[:-1], 4) for _ in range(3)), mask=gc.causal_mask(T))
    return w


def test_heatmap_image_is_the_weights_with_the_future_masked():
    w = _causal_weights(6)
    ax = attention_heatmap(w, TOKENS, title="causal")
    image = ax.images[0].get_array()
    np.testing.assert_allclose(image.data, w.numpy(), rtol=0, atol=0)
    np.testing.assert_array_equal(np.ma.getmaskarray(image), ~gc.causal_mask(6).numpy())  # greyed cells
    (hatch,) = [p for p in ax.patches if p.get_hatch() == "///"]  # one patch over the 6·5/2 future cells
    cells = np.array([(j, i) for i in range(6) for j in range(6)], dtype=float)  # (x = key, y = query)
    np.testing.assert_array_equal(hatch.get_path().contains_points(cells).reshape(6, 6), ~gc.causal_mask(6).numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == TOKENS
    assert [t.get_text() for t in ax.get_yticklabels()] == TOKENS
    assert ax.get_title() == "causal"


def test_heatmap_without_mask_masks_nothing_and_accepts_numpy():
    w = torch.softmax(torch.randn(4, 4), dim=-1).numpy()
    _, ax = plt.subplots()
    assert attention_heatmap(w, list("abcd"), ax=ax) is ax
    assert not np.ma.getmaskarray(ax.images[0].get_array()).any()
    np.testing.assert_array_equal(ax.images[0].get_array().data, w)
    assert ax.images[0].get_clim() == (0.0, w.max())  # default scale: up to the largest weight
    assert attention_heatmap(w, list("abcd"), vmax=1).images[0].get_clim() == (0.0, 1.0)


def test_heads_grid_shows_every_head_on_one_colour_scale():
    maps = torch.stack([_causal_weights(6, heads=3), _causal_weights(6, heads=3)])  # (layers, heads, T, T)
    fig = heads_grid(maps, TOKENS, title="two layers")
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 6
    for image, expected in zip(images, maps.reshape(6, 6, 6)):
        np.testing.assert_allclose(image.get_array().data, expected.numpy(), rtol=0, atol=0)
    assert len({image.get_clim() for image in images}) == 1
    assert fig.get_size_inches()[0] <= 10


@pytest.mark.parametrize("n_head", [1, 4, 12])
def test_heads_grid_fits_the_notebook_width(n_head):
    fig = heads_grid(_causal_weights(5, heads=n_head), list("abcde"), ncols=min(n_head, 6))
    assert fig.get_size_inches()[0] <= 10


def test_heads_grid_with_ragged_last_row_hides_the_spare_panels():
    fig = heads_grid(_causal_weights(5, heads=3), list("abcde"), ncols=2)
    drawn = [ax for ax in fig.axes if ax.images]
    hidden = [ax for ax in fig.axes if not ax.images and not ax.axison]
    assert len(drawn) == 3 and len(hidden) == 1


def test_wrong_number_of_tokens_is_a_clear_error():
    with pytest.raises(ValueError, match="one label per position"):
        attention_heatmap(_causal_weights(4), TOKENS)
    with pytest.raises(ValueError, match=r"\(n_head, T, T\)"):
        heads_grid(torch.zeros(6, 6), TOKENS)


def test_whitespace_tokens_are_visible():
    assert token_label(" ") == "␣"
    assert token_label("a\n") == "a⏎"


def test_inferred_mask_is_causal_only_when_every_map_hides_the_future():
    maps = _causal_weights(5, heads=3).numpy()
    assert np.array_equal(inferred_mask(maps), np.tril(np.ones((5, 5), dtype=bool)))
    assert np.array_equal(inferred_mask(maps[0]), inferred_mask(maps))
    maps[2, 0, 4] = 0.1  # one head looks ahead: nothing is masked
    assert inferred_mask(maps).all()


@pytest.mark.parametrize("T, most", [(5, 40), (40, 40), (41, 40), (256, 32), (100, 16)])
def test_token_ticks_label_at_most_most_tokens_evenly(T, most):
    _, ax = plt.subplots()
    tokens = [f"t{i}" for i in range(T)]
    token_ticks(ax, tokens, most=most)
    ticks = list(ax.get_xticks())
    assert 0 < len(ticks) <= most and ticks[0] == 0 and len(set(np.diff(ticks))) <= 1
    assert [t.get_text() for t in ax.get_yticklabels()] == [tokens[int(i)] for i in ticks]
