"""Figures the notebooks and widgets share: attention heatmaps with token labels, and a grid of heads.

Masked cells (a query may not look at that key) are drawn grey and hatched, so a causal mask is visible
at a glance and is never confused with a weight that merely happens to be small.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path

_SHOW = {" ": "␣", "\n": "⏎", "\t": "⇥"}
MASKED_COLOR = "#d9d9d9"


def token_label(token: str) -> str:
    """A token as a readable tick label: spaces and newlines made visible, long tokens shortened."""
    token = "".join(_SHOW.get(c, c) for c in str(token))
    return token if len(token) <= 12 else token[:11] + "…"


def _as_array(weights) -> np.ndarray:
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().float().cpu().numpy()
    return np.asarray(weights, dtype=float)


def inferred_mask(w: np.ndarray) -> np.ndarray:
    """(T_q, T_k) bool, True = may attend, for weights (..., T_q, T_k): the causal mask when every weight above
    the diagonal is exactly 0 (in every map), else all True."""
    T_q, T_k = w.shape[-2:]
    causal = np.tril(np.ones((T_q, T_k), dtype=bool), k=T_k - T_q)
    if T_k > 1 and np.all(w[..., ~causal] == 0):
        return causal
    return np.ones_like(causal)


def _check(w: np.ndarray, tokens: Sequence[str], mask) -> np.ndarray:
    if w.ndim != 2:
        raise ValueError(f"attention weights must be a (T, T) matrix, got shape {w.shape}; pick one head with w[h]")
    if w.shape != (len(tokens), len(tokens)):
        raise ValueError(
            f"{len(tokens)} tokens for an attention matrix of shape {w.shape}: give one label per position "
            f"(the matrix is queries × keys, both of length T)"
        )
    if mask is None:
        return inferred_mask(w)
    mask = _as_array(mask).astype(bool)
    if mask.shape != w.shape:
        raise ValueError(f"mask has shape {mask.shape}, the weights have shape {w.shape}")
    return mask


def _rotation(labels: Sequence[str]) -> int:
    return 0 if all(len(t) <= 2 for t in labels) else 90  # single characters read best upright


def _ticks(T: int, most: int = 40) -> list[int]:
    return list(range(0, T, max(1, -(-T // most))))  # at most `most` tick labels per axis


def token_ticks(ax: Axes, tokens: Sequence[str], axes: str = "xy", most: int = 40,
                fontsize: float | None = None) -> None:
    """Label the x and/or y axis (`axes`) with at most `most` of `tokens`, in a size that fits their number
    (or in `fontsize` points: the widgets keep their text readable and label fewer tokens instead)."""
    T = len(tokens)
    ticks = _ticks(T, most)
    shown = [token_label(tokens[i]) for i in ticks]
    size = fontsize if fontsize is not None else 9 if T <= 12 else 7 if T <= 45 else 5
    if "x" in axes:
        ax.set_xticks(ticks, shown, rotation=_rotation(shown), fontsize=size)
    if "y" in axes:
        ax.set_yticks(ticks, shown, fontsize=size)


def masked_cells_patch(allowed: np.ndarray) -> PathPatch | None:
    """One grey hatched patch over every cell that may not be attended to (`allowed` False): one rectangle per
    run of masked cells in a row, so a 256 × 256 causal mask is 256 rectangles in a single patch, not 32,640
    patches (which take minutes to draw)."""
    verts, codes = [], []
    rect = [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY]
    for i, row in enumerate(~np.asarray(allowed, dtype=bool)):
        edges = np.flatnonzero(np.diff(np.r_[0, row.astype(np.int8), 0]))  # run starts and ends, alternating
        for j0, j1 in zip(edges[::2], edges[1::2]):
            verts += [(j0 - 0.5, i - 0.5), (j1 - 0.5, i - 0.5), (j1 - 0.5, i + 0.5), (j0 - 0.5, i + 0.5), (0, 0)]
            codes += rect
    if not verts:
        return None
    return PathPatch(Path(verts, codes), facecolor=MASKED_COLOR, edgecolor="#9a9a9a", hatch="///", linewidth=0)


def masked_heatmap(ax: Axes, w: np.ndarray, allowed: np.ndarray, vmax: float, cmap: str = "viridis"):
    """Draw a (T, T) matrix from 0 to `vmax` with its masked cells (`allowed` False) grey and hatched."""
    colors = plt.get_cmap(cmap).with_extremes(bad=MASKED_COLOR)
    im = ax.imshow(np.ma.masked_array(w, mask=~allowed), cmap=colors, vmin=0.0, vmax=vmax,
                   interpolation="nearest", aspect="equal")
    patch = masked_cells_patch(allowed)
    if patch is not None:
        ax.add_patch(patch)
    return im


def _draw(ax: Axes, w: np.ndarray, tokens: Sequence[str], mask: np.ndarray, vmax: float,
          cmap: str, annotate: bool, labels: bool, most_ticks: int = 40):
    im = masked_heatmap(ax, w, mask, vmax, cmap)
    if labels:
        token_ticks(ax, tokens, most=most_ticks)
        ax.set_xlabel("key (attended to)")
        ax.set_ylabel("query (attending)")
    else:
        ticks = _ticks(len(tokens), most_ticks)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.set_xticklabels([])
        ax.set_yticklabels([])
    if annotate:
        for i, j in zip(*np.nonzero(mask)):
            dark = w[i, j] < 0.6 * vmax
            ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")
    return im


def attention_heatmap(weights, tokens: Sequence[str], ax: Axes | None = None, title: str | None = None,
                      mask=None, vmax: float | None = None, cmap: str = "viridis") -> Axes:
    """Draw one (T, T) attention matrix: rows are queries, columns are keys, both labelled with `tokens`.

    `mask` (bool, True = may attend) greys and hatches the forbidden cells; by default a causal mask is
    drawn when every weight above the diagonal is exactly 0. Weights are printed in the cells when T <= 8.
    The colour scale runs from 0 to `vmax` (default: the largest weight); pass vmax=1 to compare maps.
    """
    w = _as_array(weights)
    tokens = list(tokens)
    allowed = _check(w, tokens, mask)
    if ax is None:
        side = min(6.0, 2.0 + 0.25 * len(tokens))
        _, ax = plt.subplots(figsize=(side + 1.2, side))
    if vmax is None:
        vmax = float(w[allowed].max()) if allowed.any() else 1.0
    im = _draw(ax, w, tokens, allowed, vmax or 1.0, cmap, annotate=len(tokens) <= 8, labels=True)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    if title:
        ax.set_title(title)
    return ax


def heads_grid(maps, tokens: Sequence[str], title: str | None = None, ncols: int | None = None,
               cmap: str = "viridis") -> Figure:
    """A grid of attention maps: shape (n_head, T, T) gives one row of heads, (n_layer, n_head, T, T) one
    row per layer. All panels share one colour scale, so heads can be compared by eye."""
    m = _as_array(maps)
    if m.ndim == 3:
        m = m[None]
    if m.ndim != 4:
        raise ValueError(f"maps must have shape (n_head, T, T) or (n_layer, n_head, T, T), got {m.shape}")
    L, H = m.shape[:2]
    tokens = list(tokens)
    masks = [[_check(m[l, h], tokens, None) for h in range(H)] for l in range(L)]
    ncols = H if ncols is None else ncols
    nrows_per_layer = -(-H // ncols)
    nrows = L * nrows_per_layer
    panel = min(2.6, 9.0 / ncols)  # the figure stays under 10 inches wide
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols + 0.8, panel * nrows + 0.6), squeeze=False)
    vmax = float(max(m[l, h][masks[l][h]].max() for l in range(L) for h in range(H))) or 1.0
    im = None
    for l in range(L):
        for h in range(H):
            r, c = l * nrows_per_layer + h // ncols, h % ncols
            ax = axes[r, c]
            im = _draw(ax, m[l, h], tokens, masks[l][h], vmax, cmap, annotate=False, labels=False, most_ticks=24)
            ax.set_title(f"layer {l} · head {h}" if L > 1 else f"head {h}", fontsize=9)
            shown = [token_label(tokens[i]) for i in _ticks(len(tokens), 24)]
            if c == 0:
                ax.set_yticklabels(shown, fontsize=7)
            if l == L - 1 and h + ncols >= H:  # no panel below this one
                ax.set_xticklabels(shown, fontsize=7, rotation=_rotation(shown))
    for r in range(nrows):  # hide unused panels of a ragged last row
        for c in range(ncols):
            if not axes[r, c].images:
                axes[r, c].axis("off")
    fig.colorbar(im, ax=axes, fraction=0.025, pad=0.02, label="attention weight")
    if title:
        fig.suptitle(title)
    return fig


# Fonts with Chinese glyphs, most common first: Linux (Noto/Source Han, WenQuanYi), Windows, macOS.
CHINESE_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
                 "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "Sarasa Gothic SC")


def _covers(path: str, text: str) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        face = FT2Font(path)
    except (OSError, RuntimeError):
        return False
    # the Chinese characters and punctuation: other symbols fall back to DejaVu Sans (use_chinese_font)
    return all(face.get_char_index(ord(ch)) for ch in set(text)
               if "\u3000" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")


def chinese_font(text: str = "注意力机制与语言模型") -> str:
    """The family name of an installed font that has a glyph for every character of `text` (found offline,
    among the installed fonts, the usual Chinese families first)."""
    from matplotlib import font_manager

    fonts = font_manager.fontManager.ttflist
    ranked = sorted(fonts, key=lambda f: CHINESE_FONTS.index(f.name) if f.name in CHINESE_FONTS else len(CHINESE_FONTS))
    for font in ranked:
        if (font.name in CHINESE_FONTS or "CJK" in font.name or "Hei" in font.name) and _covers(font.fname, text):
            return font.name
    # matplotlib caches the font list: a font installed after that cache was written is not in it yet
    known = {f.fname for f in fonts}
    for path in font_manager.findSystemFonts():
        if path not in known and _covers(path, text):
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
    raise RuntimeError(
        "No installed font has Chinese glyphs, so Chinese text in a figure would show empty boxes. Install one, "
        "then call this again: on Debian/Ubuntu "
        "'sudo apt-get install fonts-noto-cjk' (or the smaller fonts-wqy-microhei), on Fedora "
        "'sudo dnf install google-noto-sans-cjk-fonts'; Windows (Microsoft YaHei) and macOS (PingFang SC) ship one. "
        f"Looked for: {', '.join(CHINESE_FONTS)}.")


def use_chinese_font(text: str = "注意力机制与语言模型") -> str:
    """Draw Chinese in matplotlib figures from now on: an installed Chinese font first, the default fonts after it
    (matplotlib falls back along the list glyph by glyph: symbols the Chinese font lacks come from DejaVu Sans)."""
    family = chinese_font(text)
    plt.rcParams["font.sans-serif"] = [family] + [f for f in plt.rcParams["font.sans-serif"] if f != family]
    plt.rcParams["font.family"] = [family, "DejaVu Sans"]  # a list of families is a glyph-by-glyph fallback chain
    return family
