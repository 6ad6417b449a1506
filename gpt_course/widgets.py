"""Widgets to play with what the notebooks derive: attention maps, sampling settings, positional encodings.

Each explorer is an `ipywidgets.VBox`: show it as a cell's last expression (or with `display`). The figures are
drawn with matplotlib into PNG images, so they show in any front end, and a notebook viewed without a kernel
still shows the picture the widget had when it was displayed. Bad input (empty text, too long, unknown
characters) is reported inside the widget in an element with the CSS class ``gc-error``; fix it and go on.
Every explorer keeps what it shows as data (``current_map``, ``distribution_after``, ``matrix``, ...), so tests
and curious learners can check the pictures against the package; an error clears all of it, so old results never
stand next to a new message.

The figures are made to be read on a projector: every text is at least 12 px high at 100 % zoom (`TEXT_PX`), the
figures are about 960 px wide (a JupyterLab output area narrower than the picture would shrink it, and its text
with it), and token labels are thinned out rather than shrunk. Signed quantities (encodings, similarities, biases)
get a diverging colour map centred at 0; attention weights, which lie in [0, 1], a sequential one.
"""
from __future__ import annotations

import base64
import html
import io
import time
from typing import Callable, Sequence

import ipywidgets as widgets
import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from .evaluate import distinct_n
from .generate import generate, process_logits
from .model import attention_maps
from .plotting import MASKED_COLOR, inferred_mask, masked_cells_patch, masked_heatmap, token_label, token_ticks
from .positional import RotaryEmbedding, alibi_bias, sinusoidal_encoding
from .utils import evaluating

__all__ = ["AttentionExplorer", "SamplingExplorer", "PositionalEncodingExplorer", "head_focus"]

# Readable on a projector. A text of s points is s · DPI / 72 pixels high in the PNG, which the notebook shows at
# its own size (at 100 % zoom): the sizes are set in pixels and converted. (At 80 dpi with 7-8 pt ticks, the
# figures used to have 8-9 px text.) A PNG is 40-170 kB.
DPI = 100
TEXT_PX = 12  # tick labels, legends, colour-bar ticks, the grid's panel titles: the smallest text of any figure
LABEL_PX = 13  # axis labels
TITLE_PX = 14  # titles
WIDTH_PX = 960  # fits the output area of JupyterLab on a 1280-px screen, so it is not scaled down
SEQUENTIAL = "viridis"  # values in [0, 1] (attention weights): dark = 0
DIVERGING = "RdBu_r"  # signed values, with limits ±max|value|: white = 0, red > 0, blue < 0
PENALISED = "C3"  # tokens the repetition penalty hits


def _pt(px: float) -> float:
    """Font size in points that is `px` pixels high in a PNG saved at DPI."""
    return px * 72 / DPI


STYLE = {
    "figure.dpi": DPI, "savefig.dpi": DPI, "font.size": _pt(TEXT_PX),
    "xtick.labelsize": _pt(TEXT_PX), "ytick.labelsize": _pt(TEXT_PX),
    "legend.fontsize": _pt(TEXT_PX), "legend.title_fontsize": _pt(TEXT_PX),
    "axes.labelsize": _pt(LABEL_PX), "axes.titlesize": _pt(TITLE_PX), "figure.titlesize": _pt(TITLE_PX),
}
DEFAULT_TEXT = "In 1998 , the band released their second album , which reached number one in the United Kingdom ."
DEFAULT_PROMPT = "The history of the city"


class InputError(ValueError):
    """Something the learner typed or chose that the widget cannot show; the message says how to fix it."""


# ----------------------------------------------------------------------------------------------
# Drawing helpers (one figure per redraw; never pyplot, so nothing leaks into the notebook's own output)


def _vmax(w: np.ndarray, allowed: np.ndarray) -> float:
    """Top of the colour scale: the 99th percentile of the allowed weights. The first query can only attend to
    itself (weight 1), and with the maximum as the top a long causal map would be one dark triangle."""
    return float(np.quantile(w[..., allowed], 0.99)) or 1.0


def _token_strings(tokenizer, ids: Sequence[int]) -> list[str]:
    """What each token stands for (a BPE token's bytes shown as text, a character as itself)."""
    one = getattr(tokenizer, "token_str", None) or (lambda i: tokenizer.decode([i]))
    return [one(int(i)) for i in ids]


def _encode(tokenizer, text: str, block_size: int | None, what: str) -> list[int]:
    if not text or not text.strip():
        raise InputError(f"The {what} is empty: type a few words (the model needs at least one token).")
    try:
        ids = tokenizer.encode(text)
    except (ValueError, KeyError) as err:
        raise InputError(f"The tokenizer cannot encode this {what}: {err}") from None
    if not ids:
        raise InputError(f"The {what} gives no tokens: type a few words.")
    if block_size is not None and len(ids) > block_size:
        raise InputError(
            f"The {what} is {len(ids)} tokens long, but this model reads at most block_size = {block_size} "
            f"tokens: shorten it by {len(ids) - block_size} tokens."
        )
    return ids


def _entropy(p: torch.Tensor) -> float:
    """Entropy in nats of a probability vector (zeros contribute nothing)."""
    p = p[p > 0]
    return max(0.0, float(-(p * p.log()).sum()))


def _block_size(model) -> int | None:
    return getattr(getattr(model, "config", None), "block_size", None)


def _model_device(model) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _course_model(model, tokenizer):
    if model is None and tokenizer is None:
        from .checkpoint import load_course_model

        return load_course_model()
    if model is None or tokenizer is None:
        raise ValueError("give both the model and the tokenizer it was trained with (or neither, for the course model)")
    return model, tokenizer


def _label_px(labels: Sequence[str]) -> float:
    """About how many pixels the longest of `labels` takes at TEXT_PX (DejaVu Sans: ~0.62 em a character), to
    leave room for token labels without a layout engine."""
    return max((len(t) for t in labels), default=1) * 0.62 * TEXT_PX + 4


def _most_ticks(length_px: float) -> int:
    """How many token labels fit along `length_px` pixels without overlapping (a label needs ~1.3 times its
    height): the rest are left out rather than shrunk."""
    return max(2, int(length_px / (1.3 * TEXT_PX)))


def _symmetric(values) -> float:
    """Limit of a diverging colour scale: ±max|values|, so 0 is in the middle (white)."""
    return float(np.abs(np.asarray(values)).max()) or 1.0


def _percent(p) -> str:
    """A probability as a percentage with two significant digits: 3.9%, 0.71%, 0.0043% (not 0.0%)."""
    return f"{100 * float(p):.2g}%"


def head_focus(maps: torch.Tensor) -> torch.Tensor:
    """(n_layer, n_head) focus of every head: the largest weight of each attention row, averaged over the rows.

    1 means every token puts all its attention on one token; 1/T-ish means it spreads it evenly. The first row
    of a causal map is 1 in every head, which shifts all heads alike and leaves their order unchanged.
    AttentionExplorer opens on the head where this is largest when no layer or head is given."""
    return maps.amax(dim=-1).mean(dim=-1)


# ----------------------------------------------------------------------------------------------


class _Explorer(widgets.VBox):
    """Common parts: an error line, a readout line, the figure, a saved PNG for kernel-less viewers."""

    css_class = "gc-explorer"

    def __init__(self) -> None:
        super().__init__()
        self.error: str | None = None
        self.last_redraw_seconds: float | None = None
        self.figure: Figure | None = None  # the last figure drawn (a plain matplotlib Figure, not in pyplot)
        self._png: bytes | None = None
        self._busy = False  # True while controls are being reset in code: their observers do nothing
        self.message = widgets.HTML(layout=widgets.Layout(display="none"))
        self.message.add_class("gc-error")
        self.readout = widgets.HTML()
        self.readout.add_class("gc-readout")
        self.plot = widgets.Output()
        self.plot.add_class("gc-plot")
        self.add_class("gc-widget")
        self.add_class(self.css_class)

    # --- errors -------------------------------------------------------------------------------
    def _safely(self, fn: Callable[[], None]) -> None:
        """Run an update; a failure becomes a message in the widget instead of a traceback."""
        try:
            fn()
        except InputError as err:
            self._set_error(str(err))
        except Exception as err:  # never a traceback in the middle of a lesson
            self._set_error(f"Cannot show this ({type(err).__name__}): {err}")
        else:
            self._set_error(None)

    def _set_error(self, msg: str | None) -> None:
        self.error = msg
        if msg is None:
            self.message.value, self.message.layout.display = "", "none"
        else:
            self.message.value = f'<span style="color:#b00020">⚠ {html.escape(msg)}</span>'
            self.message.layout.display = None
            self.readout.value = ""
            self.plot.outputs = ()
            self.figure = self._png = None
            self._busy = True  # clearing controls (the token list) must not redraw
            try:
                self._clear()
            finally:
                self._busy = False

    def _clear(self) -> None:
        """Forget what the last good input showed (samples, tokens, maps), so that none of it stands next to the
        error message, as the picture or as data. Each explorer clears its own."""

    def _observe(self, control: widgets.Widget, handler: Callable[[], None]) -> None:
        control.observe(lambda change: None if self._busy else self._safely(handler), names="value")

    # --- figures ------------------------------------------------------------------------------
    @staticmethod
    def _style():
        """The sizes of STYLE (text of at least TEXT_PX pixels): wrap the making *and* the saving of a figure in
        it, since tick labels are made when the figure is drawn."""
        return matplotlib.rc_context(STYLE)

    def _show(self, fig: Figure, t0: float) -> None:
        """Put `fig` into the widget as a PNG; `t0` (perf_counter at the start of the redraw) times it."""
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
        self.figure, self._png = fig, buf.getvalue()
        self.plot.outputs = ({
            "output_type": "display_data",
            "data": {"image/png": base64.b64encode(self._png).decode("ascii"), "text/plain": repr(self)},
            "metadata": {},
        },)
        self.last_redraw_seconds = time.perf_counter() - t0

    def static(self):
        """The current picture as an `IPython.display.Image` (or the error text): no widget needed to see it."""
        from IPython.display import Image

        return Image(data=self._png, format="png") if self._png is not None else (self.error or repr(self))

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus the current PNG for viewers without a kernel (GitHub, nbconvert, an untrusted
        notebook in JupyterLab), which fall back to it."""
        data = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = repr(self)
        if self._png is not None:
            data["image/png"] = base64.b64encode(self._png).decode("ascii")
        return data


# ----------------------------------------------------------------------------------------------


class AttentionExplorer(_Explorer):
    """Every layer and head of a GPT's attention on a text you type.

    The maps of all layers and heads, `gc.attention_maps(model, idx)`, are computed once per text and kept;
    the layer, head, view and token controls only redraw. Masked (future) cells are grey and hatched.

    Without `layer` and `head` it opens on the most focused head of the text (`head_focus`: the largest weight
    of each row, averaged over the rows): an untrained-looking, evenly spread head is a poor first picture of what
    trained heads do. Give one of them to search only the other; give both to open exactly there.

    Data: `tokens`, `ids`, `maps` (n_layer, n_head, T, T), `current_map` (T, T) for the chosen layer and head,
    `focus` (n_layer, n_head) = `head_focus(maps)`, `opened_on` (layer, head) and `picked_by_rule` (whether the
    rule chose them), `selected_token` (position), `error`, `last_redraw_seconds`.
    """

    css_class = "gc-attention"
    VIEWS = ("one head", "all heads")
    RULE = "the largest weight of each row, averaged over the rows"

    def __init__(self, model=None, tokenizer=None, text: str = DEFAULT_TEXT, layer: int | None = None,
                 head: int | None = None, view: str = "one head", token: int | None = None) -> None:
        if view not in self.VIEWS:
            raise ValueError(f"view={view!r} is unknown: choose one of {self.VIEWS}")
        super().__init__()
        self.model, self.tokenizer = _course_model(model, tokenizer)
        self.tokens: list[str] = []
        self.ids: list[int] = []
        self.maps: torch.Tensor | None = None
        self.focus: torch.Tensor | None = None
        self.picked_by_rule = False
        self.opened_on: tuple[int, int] | None = None
        self._opening: tuple[int | None, int | None] | None = (layer, head)  # used by the first text that works
        self._kept_token: int | None = None  # the chosen token while an error hides the token list
        self._cache: dict[str, tuple[list[int], torch.Tensor]] = {}
        cfg = getattr(self.model, "config", None)
        n_layer, n_head = getattr(cfg, "n_layer", 1), getattr(cfg, "n_head", 1)

        self.text = widgets.Textarea(value=text, description="text", continuous_update=False,
                                     layout=widgets.Layout(width="95%", height="3.2em"))
        self.text.add_class("gc-text")
        self.layer = widgets.Dropdown(options=[(f"layer {l}", l) for l in range(n_layer)], value=0,
                                      description="layer", layout=widgets.Layout(width="180px"))
        self.layer.add_class("gc-layer")
        self.head = widgets.IntSlider(value=0, min=0, max=n_head - 1, description="head", continuous_update=False)
        self.head.add_class("gc-head")
        self.view = widgets.ToggleButtons(options=self.VIEWS, value=view)
        self.view.add_class("gc-view")
        self.token = widgets.Dropdown(options=[], description="token", layout=widgets.Layout(width="260px"))
        self.token.add_class("gc-token")
        self.children = [self.text, widgets.HBox([self.layer, self.head, self.token]), self.view,
                         self.message, self.readout, self.plot]

        self._observe(self.text, self._update_text)
        for control in (self.layer, self.head, self.view, self.token):
            self._observe(control, self.redraw)
        self._safely(lambda: self._update_text(token=token))

    # --- data ---------------------------------------------------------------------------------
    @property
    def current_map(self) -> torch.Tensor | None:
        """The (T, T) attention weights shown for the chosen layer and head."""
        return None if self.maps is None else self.maps[self.layer.value, self.head.value]

    @property
    def selected_token(self) -> int | None:
        return self.token.value

    def _maps_for(self, text: str) -> tuple[list[int], torch.Tensor]:
        if text not in self._cache:
            ids = _encode(self.tokenizer, text, _block_size(self.model), "text")
            maps = attention_maps(self.model, torch.tensor([ids], dtype=torch.long))
            if len(self._cache) >= 8:
                self._cache.pop(next(iter(self._cache)))
            self._cache[text] = (ids, maps)
        return self._cache[text]

    def _opening_head(self, focus: torch.Tensor) -> tuple[int, int]:
        """The layer and head to open on: those given, and the most focused head for what was not given."""
        L, H = focus.shape
        layer, head = self._opening
        allowed = torch.ones(L, H, dtype=torch.bool)
        if layer is not None:
            allowed &= torch.arange(L)[:, None] == min(max(layer, 0), L - 1)
        if head is not None:
            allowed &= torch.arange(H)[None, :] == min(max(head, 0), H - 1)
        best = int(torch.where(allowed, focus, float("-inf")).flatten().argmax())  # ties: the first
        self.picked_by_rule = layer is None or head is None
        return divmod(best, H)

    def _update_text(self, token: int | None = None) -> None:
        self.maps = None
        self.ids, maps = self._maps_for(self.text.value)
        self.tokens = _token_strings(self.tokenizer, self.ids)
        self.focus = head_focus(maps)
        L, H, T, _ = maps.shape
        self._busy = True
        try:  # the controls follow the maps' shape; keep the choices that still exist
            if self._opening is not None:
                layer, head = self.opened_on = self._opening_head(self.focus)
                self._opening = None
            else:
                layer, head = self.layer.value, self.head.value
            if token is None:  # keep the chosen token, unless it was the last one: then follow to the new last one
                old = self.token.value if self.token.options else self._kept_token
                token = None if old is None or old == len(self.token.options) - 1 else old
            self._kept_token = None
            self.layer.options = [(f"layer {l}", l) for l in range(L)]
            self.layer.value = min(max(layer, 0), L - 1)
            self.head.max = H - 1
            self.head.value = min(max(head, 0), H - 1)
            self.token.options = [(f"{i}: {token_label(t)}", i) for i, t in enumerate(self.tokens)]
            self.token.value = T - 1 if token is None or not 0 <= token < T else token
        finally:
            self._busy = False
        self.maps = maps
        self.redraw()

    def _clear(self) -> None:
        if self.token.options and self.token.value is not None and self.token.value != len(self.token.options) - 1:
            self._kept_token = self.token.value  # a token chosen by hand comes back with the next good text
        self.tokens, self.ids, self.maps, self.focus = [], [], None, None
        self.token.options = []

    # --- drawing ------------------------------------------------------------------------------
    def redraw(self) -> None:
        """Draw the chosen view from the cached maps (no model call)."""
        if self.maps is None:
            raise InputError(self.error or "Type a text first.")
        t0 = time.perf_counter()
        l, h, i = self.layer.value, self.head.value, self.token.value
        w = self.current_map.numpy()
        allowed = inferred_mask(self.maps.numpy())
        with self._style():
            if self.view.value == "one head":
                fig = self._one_head(w, allowed, l, h, i)
            else:
                fig = self._all_heads(allowed, l, h, i)
            self._show(fig, t0)
        j = int(np.argmax(np.where(allowed[i], w[i], -1)))
        f = self.focus
        top, low = divmod(int(f.argmax()), f.shape[1]), divmod(int(f.argmin()), f.shape[1])
        where = f"layer {self.opened_on[0]} · head {self.opened_on[1]}"
        opened = (f"It opened on {where}, the most focused head of its first text: trained heads single out tokens."
                  if self.picked_by_rule else
                  f"It opened on {where}, as it was told; without layer= and head= it opens on the most focused head.")
        self.readout.value = (
            f"layer {l} · head {h} · {len(self.tokens)} tokens · <b>{html.escape(token_label(self.tokens[i]))}</b> "
            f"(position {i}) attends most to <b>{html.escape(token_label(self.tokens[j]))}</b> "
            f"(position {j}, weight {w[i, j]:.2f})<br>"
            f"Focus of this head ({self.RULE}): <b>{float(f[l, h]):.2f}</b>. The most focused head on this text is "
            f"<b>layer {top[0]} · head {top[1]}</b> ({float(f[top]):.2f}), the least layer {low[0]} · head {low[1]} "
            f"({float(f[low]):.2f}). {opened}"
        )

    @staticmethod
    def _weight_label(vmax: float) -> str:
        return f"attention weight (each row sums to 1)\ncolours stop at {vmax:.2f}, the 99th percentile"

    def _one_head(self, w: np.ndarray, allowed: np.ndarray, l: int, h: int, i: int) -> Figure:
        """The map with token labels (left), and the chosen token's row as bars (right). Axes are placed in
        pixels: a layout engine would double the time at T = 256."""
        T = len(self.tokens)
        labels = [token_label(t) for t in self.tokens]
        lab = _label_px(labels)  # room for the longest token label
        rotated = any(len(t) > 2 for t in labels)  # as token_ticks: longer labels are turned upright
        side = 400  # the map, square
        top, bottom = 2.6 * TITLE_PX + 8, (lab if rotated else 1.4 * TEXT_PX) + 1.4 * LABEL_PX + 14
        left = 1.4 * LABEL_PX + lab + 12
        bar_left = left + side + 10 + 14 + 90 + 3.5 * TEXT_PX + 1.4 * LABEL_PX  # map, colour bar, bar's y axis
        W, H = WIDTH_PX, top + side + bottom
        box = lambda x, y, w_, h_: (x / W, y / H, w_ / W, h_ / H)  # noqa: E731  (pixels → figure fractions)
        fig = Figure(figsize=(W / DPI, H / DPI))
        ax = fig.add_axes(box(left, bottom, side, side))
        bar = fig.add_axes(box(bar_left, bottom, W - bar_left - 16, side))
        cax = fig.add_axes(box(left + side + 10, bottom, 14, side))
        vmax = _vmax(w, allowed)
        im = masked_heatmap(ax, w, allowed, vmax=vmax, cmap=SEQUENTIAL)
        ax.add_patch(Rectangle((-0.5, i - 0.5), T, 1, fill=False, edgecolor="red", linewidth=1.5))
        token_ticks(ax, self.tokens, most=_most_ticks(side), fontsize=_pt(TEXT_PX))
        ax.set(xlabel="key (attended to)", ylabel="query (attending)", title=f"layer {l} · head {h}")
        fig.colorbar(im, cax=cax, extend="max", label=self._weight_label(vmax))
        keys, row, seen = np.arange(T), w[i], allowed[i]
        best = int(np.argmax(np.where(seen, row, -1)))
        if T <= 64:
            bar.bar(keys[seen], row[seen], color="C0", width=0.8)
        else:  # one line per key: a few hundred bar patches would be slow to draw
            bar.vlines(keys[seen], 0, row[seen], color="C0", linewidth=1.2)
        bar.bar([best], [row[best]], color="C3", width=0.8, label=f"most: {labels[best]!r}")
        if not seen.all():  # the future this token may not see
            bar.axvspan(i + 0.5, T - 0.5, facecolor=MASKED_COLOR, edgecolor="#9a9a9a", hatch="///", linewidth=0,
                        label="masked (future)")
        bar.legend(loc="upper right", framealpha=0.9)
        bar.set_xlim(-0.5, T - 0.5)
        token_ticks(bar, self.tokens, axes="x", most=_most_ticks(W - bar_left - 16), fontsize=_pt(TEXT_PX))
        bar.set(xlabel="key", ylabel="attention weight", ylim=(0, min(1.0, 1.3 * row[best]) + 0.02),
                title=f"what {labels[i]!r} attends to\n(the red row, position {i})")
        return fig

    def _all_heads(self, allowed: np.ndarray, l: int, h: int, i: int) -> Figure:
        """One small map per head (rows = layers) on one colour scale; each panel's title gives its focus."""
        maps = self.maps.numpy()
        L, H, T, _ = maps.shape
        layers = range(L) if L * H <= 48 else [l]  # a big model: the heads of the chosen layer only
        labels = [token_label(t) for t in self.tokens]
        lab = _label_px(labels)
        rotated = any(len(t) > 2 for t in labels)
        left, right, gap, row_gap = lab + 14, 100 + 3.5 * TEXT_PX, 8, 1.6 * TEXT_PX + 8
        top, bottom = 2.8 * TITLE_PX + row_gap, (lab if rotated else 1.4 * TEXT_PX) + 14
        panel = min(240.0, (WIDTH_PX - left - right - (H - 1) * gap) / H)
        W = left + H * panel + (H - 1) * gap + right
        Hpx = top + len(layers) * panel + (len(layers) - 1) * row_gap + bottom
        fig = Figure(figsize=(W / DPI, Hpx / DPI))
        vmax = _vmax(maps[list(layers)], allowed)
        most = _most_ticks(panel)
        for r, layer in enumerate(layers):
            y = Hpx - top - (r + 1) * panel - r * row_gap
            for head in range(H):
                ax = fig.add_axes(((left + head * (panel + gap)) / W, y / Hpx, panel / W, panel / Hpx))
                im = masked_heatmap(ax, maps[layer, head], allowed, vmax, cmap=SEQUENTIAL)
                ax.add_patch(Rectangle((-0.5, i - 0.5), T, 1, fill=False, edgecolor="red", linewidth=0.8))
                chosen = (layer, head) == (l, h)
                name = f"L{layer} H{head}"
                if panel >= 8 * TEXT_PX:  # room for the focus too
                    name += f" · {float(self.focus[layer, head]):.2f}"
                ax.set_title(name, fontsize=_pt(TEXT_PX), color="red" if chosen else "black",
                             fontweight="bold" if chosen else "normal")
                if chosen:
                    for spine in ax.spines.values():
                        spine.set(color="red", linewidth=2)
                if head == 0:
                    token_ticks(ax, self.tokens, axes="y", most=most, fontsize=_pt(TEXT_PX))
                else:
                    ax.set_yticks([])
                if r == len(layers) - 1:
                    token_ticks(ax, self.tokens, axes="x", most=most, fontsize=_pt(TEXT_PX))
                else:
                    ax.set_xticks([])
        cax = fig.add_axes(((W - right + 12) / W, bottom / Hpx, 14 / W, (Hpx - top - bottom) / Hpx))
        fig.colorbar(im, cax=cax, extend="max", label=self._weight_label(vmax))
        fig.suptitle(f"All heads: rows = layers, red frame = layer {l} head {h}, red box = token {i}\n"
                     f"the number by each head: its focus ({self.RULE})", y=1 - 6 / Hpx, va="top")
        return fig

    def __repr__(self) -> str:
        if self.error:
            return f"AttentionExplorer(error: {self.error})"
        return (f"AttentionExplorer({len(self.tokens)} tokens, layer {self.layer.value}, head {self.head.value}, "
                f"view {self.view.value!r})")


# ----------------------------------------------------------------------------------------------


class SamplingExplorer(_Explorer):
    """How temperature, top-k, top-p and a repetition penalty reshape the next-token distribution.

    The bars show the model's own distribution (before) and the one sampling draws from (after), computed with
    `gpt_course.generate.process_logits`, the code path `gc.generate` uses. N samples are generated side by side
    from one seed, with distinct-1/2 and their mean log-likelihood under the model (temperature 1, no filter).

    The SHOWN most likely tokens get a bar each, and one more panel holds the rest of the vocabulary together, so
    the bars add up to 1. With a repetition penalty the tokens already in the context are hatched and labelled in
    red, with a dashed outline at the probability they would have without the penalty (the other rules kept).

    Data: `distribution_before`, `distribution_after`, `distribution_without_penalty` (vocab_size,), `penalised`
    (the token ids the penalty hits: those of the prompt, or none at penalty 1), `bars` (the tokens shown: "ids",
    "tokens", "before", "after", "penalised", "without_penalty", and "other": the number of tokens not shown and
    their probability before and after), `samples` (continuations as text), `sample_ids`, `metrics`, `error`,
    `last_redraw_seconds`.
    """

    css_class = "gc-sampling"
    SHOWN = 20  # bars: the most likely tokens before filtering

    def __init__(self, model=None, tokenizer=None, prompt: str = DEFAULT_PROMPT, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, repetition_penalty: float = 1.0, n_samples: int = 3,
                 max_new_tokens: int = 30, seed: int = 0) -> None:
        super().__init__()
        self.model, self.tokenizer = _course_model(model, tokenizer)
        vocab = self.tokenizer.vocab_size
        self.distribution_before: torch.Tensor | None = None
        self.distribution_after: torch.Tensor | None = None
        self.distribution_without_penalty: torch.Tensor | None = None
        self.penalised: list[int] = []
        self.bars: dict | None = None
        self.samples: list[str] = []
        self.sample_ids: torch.Tensor | None = None
        self.metrics: dict = {}
        self._logits_cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

        def slider(cls, css, **kw):
            s = cls(continuous_update=False, style={"description_width": "190px"},
                    layout=widgets.Layout(width="450px"), **kw)
            s.add_class(css)
            return s

        self.prompt = widgets.Textarea(value=prompt, description="prompt", continuous_update=False,
                                       layout=widgets.Layout(width="95%", height="3.2em"))
        self.prompt.add_class("gc-prompt")
        self.temperature = slider(widgets.FloatSlider, "gc-temperature", value=temperature, min=0.0, max=2.0,
                                  step=0.05, description="temperature (0 = greedy)")
        self.top_k = slider(widgets.IntSlider, "gc-top-k", value=top_k, min=0, max=min(vocab, 100),
                            description="top-k (0 = off)")
        self.top_p = slider(widgets.FloatSlider, "gc-top-p", value=top_p, min=0.05, max=1.0, step=0.05,
                            description="top-p (1 = off)")
        self.repetition_penalty = slider(widgets.FloatSlider, "gc-repetition-penalty", value=repetition_penalty,
                                         min=1.0, max=2.0, step=0.05, description="repetition penalty (1 = off)")
        self.n_samples = slider(widgets.IntSlider, "gc-n-samples", value=n_samples, min=1, max=6,
                                description="samples")
        self.max_new_tokens = slider(widgets.IntSlider, "gc-max-new-tokens", value=max_new_tokens, min=1, max=100,
                                     description="new tokens")
        self.seed = widgets.IntText(value=seed, description="seed", style={"description_width": "190px"},
                                    layout=widgets.Layout(width="330px"))
        self.seed.add_class("gc-seed")
        self.resample = widgets.Button(description="resample", tooltip="new samples: seed + 1",
                                       layout=widgets.Layout(width="110px"))
        self.resample.add_class("gc-resample")
        self.resample.on_click(lambda _: setattr(self.seed, "value", self.seed.value + 1))
        self.sample_boxes = widgets.HBox(layout=widgets.Layout(width="100%"))
        self.sample_boxes.add_class("gc-samples")
        self.metrics_line = widgets.HTML()
        self.metrics_line.add_class("gc-metrics")
        self.children = [
            self.prompt,
            widgets.HBox([
                widgets.VBox([self.temperature, self.top_k, self.top_p, self.repetition_penalty]),
                widgets.VBox([self.n_samples, self.max_new_tokens, widgets.HBox([self.seed, self.resample])]),
            ]),
            self.message, self.readout, self.plot, self.metrics_line, self.sample_boxes,
        ]
        for control in (self.prompt, self.temperature, self.top_k, self.top_p, self.repetition_penalty):
            self._observe(control, self.update)
        for control in (self.n_samples, self.max_new_tokens, self.seed):
            self._observe(control, self._sample)
        self._safely(self.update)

    def _settings(self) -> dict:
        return dict(temperature=self.temperature.value, top_k=self.top_k.value or None,
                    top_p=self.top_p.value if self.top_p.value < 1.0 else None,
                    repetition_penalty=self.repetition_penalty.value)

    def _prompt_logits(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(prompt ids (1, T), next-token logits (1, V)), one forward pass per prompt."""
        text = self.prompt.value
        if text not in self._logits_cache:
            ids = _encode(self.tokenizer, text, _block_size(self.model), "prompt")
            idx = torch.tensor([ids], dtype=torch.long, device=_model_device(self.model))
            with evaluating(self.model), torch.no_grad():
                logits = self.model(idx)[0][:, -1, :].float()
            if len(self._logits_cache) >= 8:
                self._logits_cache.pop(next(iter(self._logits_cache)))
            self._logits_cache[text] = (idx, logits)
        return self._logits_cache[text]

    def update(self) -> None:
        """Recompute the distributions for the current prompt and settings, redraw, and sample again."""
        self.distribution_before = self.distribution_after = self.distribution_without_penalty = None
        t0 = time.perf_counter()
        idx, logits = self._prompt_logits()
        s = self._settings()
        after = process_logits(logits, idx, **s)
        self.distribution_before = torch.softmax(logits, dim=-1)[0].cpu()
        self.distribution_after = torch.softmax(after, dim=-1)[0].cpu()
        # the same rules without the penalty: what the penalised tokens had before it hit them
        self.distribution_without_penalty = (
            torch.softmax(process_logits(logits, idx, **{**s, "repetition_penalty": 1.0}), dim=-1)[0].cpu()
            if s["repetition_penalty"] != 1.0 else self.distribution_after)
        self.penalised = sorted(set(idx[0].tolist())) if s["repetition_penalty"] != 1.0 else []
        self._draw(idx, t0)
        self._sample()

    def _draw(self, idx: torch.Tensor, t0: float) -> None:
        before, after = self.distribution_before, self.distribution_after
        unpenalised = self.distribution_without_penalty
        V = len(before)
        shown = torch.argsort(before, descending=True)[: self.SHOWN]
        labels = [token_label(t) for t in _token_strings(self.tokenizer, shown.tolist())]
        hit = torch.isin(shown, torch.tensor(self.penalised, dtype=shown.dtype))
        self.bars = {"ids": shown, "tokens": labels, "before": before[shown], "after": after[shown],
                     "penalised": hit, "without_penalty": unpenalised[shown],
                     "other": {"tokens": V - len(shown), "before": float(1 - before[shown].sum().clamp(max=1)),
                               "after": float(1 - after[shown].sum().clamp(max=1))}}
        other = self.bars["other"]
        kept = int((after > 0).sum())
        entropy = {name: _entropy(p) for name, p in (("before", before), ("after", after))}
        self.metrics.update({"tokens kept": kept, "entropy before": entropy["before"],
                             "entropy after": entropy["after"]})

        with self._style():
            fig = Figure(figsize=(WIDTH_PX / DPI, 5.4), layout="constrained")
            ax, rest = fig.subplots(1, 2, width_ratios=[9, 1])
            x = np.arange(len(shown))
            ax.bar(x - 0.2, self.bars["before"].numpy(), width=0.4, color="#b0b0b0", label="model (before the rules)")
            drawn = ax.bar(x + 0.2, self.bars["after"].numpy(), width=0.4, color="C0", label="sampled from (after)")
            if hit.any():  # hatched: penalised; a dashed outline: what they had without the penalty
                for patch in np.array(drawn.patches)[hit.numpy()]:
                    patch.set(hatch="///", edgecolor=PENALISED, linewidth=1.2)
                ax.bar(x[hit] + 0.2, self.bars["without_penalty"][hit].numpy(), width=0.4, fill=False,
                       edgecolor=PENALISED, linestyle="--", linewidth=1.5, label="in the context: without the penalty")
            handles = [Patch(color=c.patches[0].get_facecolor(), label=c.get_label()) for c in ax.containers[:2]]
            if hit.any():  # (the legend's own patches: the first bar may be hatched or not)
                handles += [Patch(fill=False, edgecolor=PENALISED, linestyle="--", linewidth=1.5,
                                  label="in the context: without the penalty"),
                            Patch(facecolor="C0", hatch="///", edgecolor=PENALISED, label="in the context: with it")]
            rotation = 0 if all(len(t) <= 2 for t in labels) else 60
            ax.set_xticks(x, labels, rotation=rotation, ha="right" if rotation else "center",
                          rotation_mode="anchor" if rotation else "default")
            for tick, h in zip(ax.get_xticklabels(), hit.tolist()):
                if h:
                    tick.set(color=PENALISED, fontweight="bold")
            ax.set(ylabel="probability", xlabel=f"the {len(shown)} most likely next tokens"
                   + (" (red: in the context, penalised)" if hit.any() else ""), xlim=(-0.6, len(shown) - 0.4))
            ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2,
                      frameon=False)  # above the bars, never on them
            # the rest of the vocabulary, together: the bars of both panels sum to 1
            for dx, p, color in ((-0.2, other["before"], "#b0b0b0"), (0.2, other["after"], "C0")):
                rest.bar([dx], [p], width=0.4, color=color)
                rest.text(dx, p + 0.02, f"{p:.0%}", ha="center", va="bottom", rotation=90)
            rest.set(xlim=(-0.5, 0.5), ylim=(0, 1.15), yticks=[0, 0.5, 1], title="the rest")
            rest.set_xticks([0], [f"other\n{other['tokens']:,}"])
            rest.yaxis.tick_right()
            tail = self.tokenizer.decode(idx[0, -8:].tolist())
            fig.suptitle(f"Next token after …{tail[-40:]!r}: {kept:,} of {V:,} tokens can be drawn · "
                         f"entropy {entropy['before']:.2f} → {entropy['after']:.2f} nats")
            self._show(fig, t0)
        s = self._settings()
        lines = [
            f"temperature {s['temperature']:.2f} · top-k {s['top_k'] or 'off'} · "
            f"top-p {'off' if s['top_p'] is None else format(s['top_p'], '.2f')} · "
            f"repetition penalty {s['repetition_penalty']:.2f} → <b>{kept}</b> of {V} tokens can be drawn",
            f"The {len(shown)} bars hold {1 - other['before']:.1%} of the probability before the rules and "
            f"{1 - other['after']:.1%} after; the other {other['tokens']:,} tokens together {other['before']:.1%} "
            f"and {other['after']:.1%} (the bar on the right).",
        ]
        if self.penalised:
            order = sorted(self.penalised, key=lambda t: -float(unpenalised[t]))
            names = _token_strings(self.tokenizer, order)
            changes = ", ".join(f"<b>{html.escape(token_label(n))}</b> {_percent(unpenalised[t])} → "
                                f"{_percent(after[t])}" for t, n in zip(order[:8], names[:8]))
            outside = len(self.penalised) - int(hit.sum())
            lines.append(
                f"The penalty hits the {len(self.penalised)} tokens already in the context ({int(hit.sum())} of "
                f"them among the bars, hatched; {outside} in the rest), without → with it: {changes}"
                + (" …" if len(order) > 8 else ""))
        self.readout.value = "<br>".join(lines)

    def _clear(self) -> None:
        self.distribution_before = self.distribution_after = self.distribution_without_penalty = None
        self.bars, self.penalised, self.metrics = None, [], {}
        self.samples, self.sample_ids = [], None
        self.metrics_line.value = ""
        self.sample_boxes.children = ()

    def _sample(self) -> None:
        """N continuations from one seeded generator (same seed, same samples) and their metrics."""
        if self.distribution_after is None:
            raise InputError(self.error or "Type a prompt first.")
        idx, _ = self._prompt_logits()
        n, new = self.n_samples.value, self.max_new_tokens.value
        g = torch.Generator(device=idx.device).manual_seed(int(self.seed.value))
        out = generate(self.model, idx.repeat(n, 1), new, generator=g, **self._settings())
        self.sample_ids = out[:, idx.shape[1]:].cpu()
        self.samples = [self.tokenizer.decode(row.tolist()) for row in self.sample_ids]
        loglik = self._mean_log_likelihood(out, idx.shape[1])
        self.metrics.update({
            "distinct-1": distinct_n(self.samples, 1),
            "distinct-2": distinct_n(self.samples, 2),
            "mean log-likelihood": float(loglik.mean()),
            "log-likelihood per sample": loglik.tolist(),
        })
        m = self.metrics
        self.metrics_line.value = (
            f"distinct-1 <b>{m['distinct-1']:.2f}</b> · distinct-2 <b>{m['distinct-2']:.2f}</b> · "
            f"mean log-likelihood under the model <b>{m['mean log-likelihood']:.2f}</b> nats/token "
            f"(over {n} samples of {new} tokens)"
        )
        prompt = html.escape(self.prompt.value)
        boxes = []
        for k, (text, ll) in enumerate(zip(self.samples, loglik.tolist())):
            box = widgets.HTML(
                f'<div style="white-space:pre-wrap;font-family:monospace;font-size:12px">'
                f'<span style="color:#888">{prompt}</span><b>{html.escape(text)}</b></div>'
                f'<div style="color:#555;font-size:11px">sample {k + 1} · log-likelihood {ll:.2f} nats/token</div>',
                layout=widgets.Layout(flex="1 1 0%", border="1px solid #ddd", padding="4px", margin="2px"))
            box.add_class("gc-sample")
            boxes.append(box)
        self.sample_boxes.children = boxes

    @torch.no_grad()
    def _mean_log_likelihood(self, out: torch.Tensor, start: int) -> torch.Tensor:
        """Mean log p(token | what the model saw when it was drawn) of the generated tokens, per sample (nats)."""
        block = _block_size(self.model) or out.shape[1]
        with evaluating(self.model):
            logp = []
            first = min(out.shape[1], block)  # tokens start..first-1 are all predicted from one window
            if first > start:
                lp = F.log_softmax(self.model(out[:, :first])[0].float(), dim=-1)  # (n, first, V)
                logp.append(lp[:, start - 1 : first - 1].gather(-1, out[:, start:first, None])[..., 0])
            for t in range(max(first, start), out.shape[1]):  # beyond the window: the last block_size tokens
                lp = F.log_softmax(self.model(out[:, t - block : t])[0][:, -1].float(), dim=-1)
                logp.append(lp.gather(-1, out[:, t, None]))
        return torch.cat(logp, dim=1).mean(dim=1).cpu()

    def __repr__(self) -> str:
        if self.error:
            return f"SamplingExplorer(error: {self.error})"
        return f"SamplingExplorer(prompt={self.prompt.value!r}, samples={self.samples!r})"


# ----------------------------------------------------------------------------------------------


class PositionalEncodingExplorer(_Explorer):
    """Sinusoidal, learned, rotary (RoPE) and ALiBi positions side by side.

    For sinusoidal, learned and RoPE, `matrix` is (positions, dimensions) and `similarity` the cosine similarity
    of every pair of positions. RoPE's matrix is the rotation applied to the vector (1, 0, 1, 0, ...): its
    (cos, sin) pairs. ALiBi has no vectors: it adds -slope · distance to the attention scores, so `matrix` is that
    bias (n_head, T, T) and `similarity` the bias of the chosen head (the "dimension" slider picks the head).

    The learned table is the `wpe` of `model` (default: the course checkpoint, loaded when first chosen). Sizes
    follow `model`, or the course model's recipe when there is none.
    """

    css_class = "gc-positional"
    KINDS = (("sinusoidal", "sinusoidal"), ("learned (wpe)", "learned"), ("RoPE", "rope"), ("ALiBi", "alibi"))

    def __init__(self, model=None, kind: str = "sinusoidal", max_len: int | None = None, d_model: int | None = None,
                 n_head: int | None = None) -> None:
        kinds = [k for _, k in self.KINDS]
        if kind not in kinds:
            raise ValueError(f"kind={kind!r} is unknown: choose one of {kinds}")
        super().__init__()
        if model is not None:
            cfg = model.config
        else:
            from .pretrain import COURSE_RECIPE

            cfg = COURSE_RECIPE.model
        self.model = model
        self.max_len = max_len or cfg.block_size
        self.d_model = d_model or cfg.n_embd
        self.n_head = n_head or cfg.n_head
        self.matrix: torch.Tensor | None = None
        self.similarity: torch.Tensor | None = None

        self.kind = widgets.Dropdown(options=self.KINDS, value=kind, description="encoding")
        self.kind.add_class("gc-kind")
        self.dim = widgets.IntSlider(value=0, min=0, max=self.d_model - 1, description="dimension",
                                     continuous_update=False)
        self.dim.add_class("gc-dim")
        self.position = widgets.IntSlider(value=min(10, self.max_len - 1), min=0, max=self.max_len - 1,
                                          description="position", continuous_update=False)
        self.position.add_class("gc-position")
        self.children = [self.kind, widgets.HBox([self.dim, self.position]), self.message, self.readout, self.plot]
        self._observe(self.kind, self._update_kind)
        self._observe(self.dim, self.redraw)
        self._observe(self.position, self.redraw)
        self._safely(self._update_kind)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def _learned(self) -> torch.Tensor:
        if self.model is None:
            from .checkpoint import checkpoint_path, load_course_model

            if not checkpoint_path().exists():
                raise InputError(f"No course checkpoint at {checkpoint_path()}: run `python -m gpt_course.pretrain` "
                                 f"(about 5 minutes) or pass a trained model: PositionalEncodingExplorer(model)")
            self.model, _ = load_course_model()
        wpe = self.model.transformer["wpe"] if "wpe" in self.model.transformer else None
        if not isinstance(wpe, torch.nn.Embedding):
            raise InputError(f"This model has no learned position table (pos_encoding="
                             f"{self.model.config.pos_encoding!r}): choose another encoding, or pass a model with "
                             f"pos_encoding='learned'")
        return wpe.weight.detach().float().cpu()[: self.max_len]

    def compute(self, kind: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(matrix, cosine similarity of positions) for `kind`; ALiBi returns (bias, None)."""
        L = self.max_len
        if kind == "sinusoidal":
            m = sinusoidal_encoding(L, self.d_model)
        elif kind == "learned":
            m = self._learned()
        elif kind == "rope":
            unit = torch.zeros(L, self.head_dim)
            unit[:, 0::2] = 1.0  # (1, 0, 1, 0, ...): each pair starts on the x axis, RoPE turns it by pos·θ_i
            m = RotaryEmbedding(self.head_dim, L)(unit)
        else:
            return alibi_bias(self.n_head, L), None
        unit_rows = F.normalize(m, dim=1)
        return m, unit_rows @ unit_rows.T

    def _clear(self) -> None:
        self.matrix = self.similarity = None

    def _update_kind(self) -> None:
        self.matrix = self.similarity = None
        kind = self.kind.value
        self.matrix, self.similarity = self.compute(kind)
        n_dims = self.n_head if kind == "alibi" else self.matrix.shape[1]
        self._busy = True
        try:
            self.dim.description = "head" if kind == "alibi" else "dimension"
            self.dim.value = min(self.dim.value, n_dims - 1)
            self.dim.max = n_dims - 1
            self.position.max = self.matrix.shape[-2] - 1
        finally:
            self._busy = False
        self.redraw()

    def redraw(self) -> None:
        if self.matrix is None:
            raise InputError(self.error or "Choose an encoding first.")
        t0 = time.perf_counter()
        kind, d, p = self.kind.value, self.dim.value, self.position.value
        with self._style():
            fig = Figure(figsize=(WIDTH_PX / DPI, 7.6), layout="constrained")
            fig.get_layout_engine().set(w_pad=6 / DPI, h_pad=6 / DPI, wspace=0.06, hspace=0.06)
            (a, b), (c, e) = fig.subplots(2, 2)
            if kind == "alibi":
                self._alibi(fig, a, b, c, e, d, p)
            else:
                self._vectors(fig, a, b, c, e, kind, d, p)
            self._show(fig, t0)

    def _alibi(self, fig: Figure, a, b, c, e, d: int, p: int) -> None:
        sim = self.matrix[d]  # (T, T) bias of head d
        allowed = np.tril(np.ones(sim.shape, dtype=bool))
        colors = matplotlib.colormaps[DIVERGING].with_extremes(bad=MASKED_COLOR)
        # the bias is <= 0: white = the score is left as it is, blue = lowered; each panel its own ±limit
        seen = np.broadcast_to(np.arange(self.max_len) <= p, (self.n_head, self.max_len))  # future keys masked
        top = _symmetric(self.matrix[:, p, : p + 1])
        im = a.imshow(np.ma.masked_array(self.matrix[:, p, :].numpy(), ~seen), aspect="auto", cmap=colors,
                      vmin=-top, vmax=top, interpolation="nearest")
        if not seen.all():
            a.add_patch(masked_cells_patch(seen))
        a.set_yticks(range(self.n_head))
        a.set(xlabel="key position", ylabel="head", title=f"query {p}: the bias in every head")
        fig.colorbar(im, ax=a, label="bias (white = 0)")
        top = _symmetric(sim.numpy()[allowed])
        im = b.imshow(np.ma.masked_array(sim.numpy(), ~allowed), cmap=colors, vmin=-top, vmax=top,
                      interpolation="nearest")
        b.add_patch(masked_cells_patch(allowed))
        b.set(xlabel="key position", ylabel="query position", title=f"head {d}: bias −slope·(i − j)")
        fig.colorbar(im, ax=b, label="bias (white = 0)")
        for h in range(self.n_head):
            c.plot(self.matrix[h, p, : p + 1].numpy(), color="C3" if h == d else "#bbbbbb", lw=2.5 if h == d else 1.2)
        c.set(xlabel="key position", ylabel="bias", title=f"query {p}: each head's bias (red = head {d})")
        e.plot(torch.softmax(sim[p, : p + 1], dim=0).numpy(), color="C0", lw=2)
        e.set(xlabel="key position", ylabel="weight", title=f"head {d}, query {p}: attention if scores were equal")
        self.readout.value = (f"ALiBi · {self.n_head} heads · head {d} slope "
                              f"{-float(sim[1, 0]) if sim.shape[0] > 1 else 0:.4f} · query position {p}")

    def _vectors(self, fig: Figure, a, b, c, e, kind: str, d: int, p: int) -> None:
        m, sim = self.matrix, self.similarity
        top = _symmetric(m)
        im = a.imshow(m.numpy(), aspect="auto", cmap=DIVERGING, vmin=-top, vmax=top, interpolation="nearest")
        a.axvline(d, color="k", lw=1)
        a.axhline(p, color="k", lw=1)
        a.set(xlabel="dimension", ylabel="position",
              title=f"{dict((v, k) for k, v in self.KINDS)[kind]}: {m.shape[0]} positions × {m.shape[1]} dims")
        fig.colorbar(im, ax=a, label="value (white = 0)")
        im = b.imshow(sim.numpy(), cmap=DIVERGING, vmin=-1, vmax=1, interpolation="nearest")
        b.axhline(p, color="k", lw=1)
        b.set(xlabel="position", ylabel="position", title="cosine similarity of positions")
        fig.colorbar(im, ax=b, label="cosine similarity (white = 0)")
        c.plot(m[:, d].numpy(), color="C0", lw=2)
        c.axvline(p, color="red", lw=1)
        c.axhline(0, color="#888888", lw=0.8)
        c.set(xlabel="position", ylabel="value", title=f"dimension {d} along the positions")
        e.plot(sim[p].numpy(), color="C2", lw=2)
        e.axvline(p, color="red", lw=1)
        e.axhline(0, color="#888888", lw=0.8)
        e.set(xlabel="position", ylabel="cosine similarity", ylim=(-1.05, 1.05),
              title=f"how similar position {p} is to each position")
        near = sim[p].clone()
        near[p] = -2
        self.readout.value = (f"{kind} · position {p} · dimension {d} = {float(m[p, d]):+.3f} · the most "
                              f"similar other position is {int(near.argmax())} ({float(near.max()):.2f})")

    def __repr__(self) -> str:
        if self.error:
            return f"PositionalEncodingExplorer(error: {self.error})"
        return f"PositionalEncodingExplorer(kind={self.kind.value!r}, {self.max_len} positions)"
