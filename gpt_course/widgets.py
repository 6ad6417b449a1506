"""Widgets to play with what the notebooks derive: attention maps, sampling settings, positional encodings.

Each explorer is an `ipywidgets.VBox`: show it as a cell's last expression (or with `display`). The figures are
drawn with matplotlib into PNG images, so they show in any front end, and a notebook viewed without a kernel
still shows the picture the widget had when it was displayed. Bad input (empty text, too long, unknown
characters) is reported inside the widget in an element with the CSS class ``gc-error``; fix it and go on.
Every explorer keeps what it shows as data (``current_map``, ``distribution_after``, ``matrix``, ...), so tests
and curious learners can check the pictures against the package.
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
from matplotlib.patches import Rectangle

from .evaluate import distinct_n
from .generate import generate, process_logits
from .model import attention_maps
from .plotting import MASKED_COLOR, inferred_mask, masked_cells_patch, masked_heatmap, token_label, token_ticks
from .positional import RotaryEmbedding, alibi_bias, sinusoidal_encoding
from .utils import evaluating

__all__ = ["AttentionExplorer", "SamplingExplorer", "PositionalEncodingExplorer"]

DPI = 80  # small PNGs: quick to redraw and to send to the browser, light in a saved notebook
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

    def _observe(self, control: widgets.Widget, handler: Callable[[], None]) -> None:
        control.observe(lambda change: None if self._busy else self._safely(handler), names="value")

    # --- figures ------------------------------------------------------------------------------
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

    Data: `tokens`, `ids`, `maps` (n_layer, n_head, T, T), `current_map` (T, T) for the chosen layer and head,
    `selected_token` (position), `error`, `last_redraw_seconds`.
    """

    css_class = "gc-attention"
    VIEWS = ("one head", "all heads")

    def __init__(self, model=None, tokenizer=None, text: str = DEFAULT_TEXT, layer: int = 0, head: int = 0,
                 view: str = "one head", token: int | None = None) -> None:
        if view not in self.VIEWS:
            raise ValueError(f"view={view!r} is unknown: choose one of {self.VIEWS}")
        super().__init__()
        self.model, self.tokenizer = _course_model(model, tokenizer)
        self.tokens: list[str] = []
        self.ids: list[int] = []
        self.maps: torch.Tensor | None = None
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
        self._safely(lambda: self._update_text(layer=layer, head=head, token=token))

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

    def _update_text(self, layer: int | None = None, head: int | None = None, token: int | None = None) -> None:
        self.maps = None
        self.ids, maps = self._maps_for(self.text.value)
        self.tokens = _token_strings(self.tokenizer, self.ids)
        L, H, T, _ = maps.shape
        self._busy = True
        try:  # the controls follow the maps' shape; keep the choices that still exist
            layer = self.layer.value if layer is None else layer
            head = self.head.value if head is None else head
            if token is None:  # keep the chosen token, unless it was the last one: then follow to the new last one
                old = self.token.value
                token = None if old is None or old == len(self.token.options) - 1 else old
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

    # --- drawing ------------------------------------------------------------------------------
    def redraw(self) -> None:
        """Draw the chosen view from the cached maps (no model call)."""
        if self.maps is None:
            raise InputError(self.error or "Type a text first.")
        t0 = time.perf_counter()
        l, h, i = self.layer.value, self.head.value, self.token.value
        w = self.current_map.numpy()
        allowed = inferred_mask(self.maps.numpy())
        if self.view.value == "one head":
            fig = self._one_head(w, allowed, l, h, i)
        else:
            fig = self._all_heads(allowed, l, h, i)
        self._show(fig, t0)
        j = int(np.argmax(np.where(allowed[i], w[i], -1)))
        self.readout.value = (
            f"layer {l} · head {h} · {len(self.tokens)} tokens · <b>{html.escape(token_label(self.tokens[i]))}</b> "
            f"(position {i}) attends most to <b>{html.escape(token_label(self.tokens[j]))}</b> "
            f"(position {j}, weight {w[i, j]:.2f})"
        )

    def _one_head(self, w: np.ndarray, allowed: np.ndarray, l: int, h: int, i: int) -> Figure:
        T = len(self.tokens)
        fig = Figure(figsize=(10, 4.8))  # fixed margins: a layout engine would double the time at T = 256
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.22, top=0.93, wspace=0.4)
        ax, bar = fig.subplots(1, 2, width_ratios=[1.15, 1])
        im = masked_heatmap(ax, w, allowed, vmax=_vmax(w, allowed))
        ax.add_patch(Rectangle((-0.5, i - 0.5), T, 1, fill=False, edgecolor="red", linewidth=1.5))
        token_ticks(ax, self.tokens, most=32)
        ax.set(xlabel="key (attended to)", ylabel="query (attending)", title=f"layer {l} · head {h}")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, extend="max", label="attention weight")
        keys, row, seen = np.arange(T), w[i], allowed[i]
        best = int(np.argmax(np.where(seen, row, -1)))
        if T <= 64:
            bar.bar(keys[seen], row[seen], color="C0", width=0.8)
        else:  # one line per key: a few hundred bar patches would be slow to draw
            bar.vlines(keys[seen], 0, row[seen], color="C0", linewidth=1.2)
        bar.bar([best], [row[best]], color="C3", width=0.8, label=f"most: {token_label(self.tokens[best])!r}")
        if not seen.all():  # the future this token may not see
            bar.axvspan(i + 0.5, T - 0.5, facecolor=MASKED_COLOR, edgecolor="#9a9a9a", hatch="///", linewidth=0,
                        label="masked (future)")
        bar.legend(loc="upper right", fontsize=8)
        bar.set_xlim(-0.5, T - 0.5)
        token_ticks(bar, self.tokens, axes="x", most=32)
        bar.set(xlabel="key", ylabel="attention weight", ylim=(0, min(1.0, 1.2 * row[best]) + 0.02),
                title=f"what {token_label(self.tokens[i])!r} (position {i}) attends to")
        return fig

    def _all_heads(self, allowed: np.ndarray, l: int, h: int, i: int) -> Figure:
        maps = self.maps.numpy()
        L, H, T, _ = maps.shape
        layers = range(L) if L * H <= 48 else [l]  # a big model: the heads of the chosen layer only
        panel = min(2.3, 9.0 / H)
        width, height = panel * H + 1.4, panel * len(layers) + 1.1
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(left=0.7 / width, right=1 - 0.9 / width, bottom=0.6 / height, top=1 - 0.45 / height,
                            wspace=0.08, hspace=0.25)
        axes = fig.subplots(len(layers), H, squeeze=False)
        vmax = _vmax(maps[list(layers)], allowed)
        for r, layer in enumerate(layers):
            for head in range(H):
                ax = axes[r, head]
                im = masked_heatmap(ax, maps[layer, head], allowed, vmax)
                ax.add_patch(Rectangle((-0.5, i - 0.5), T, 1, fill=False, edgecolor="red", linewidth=0.8))
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"L{layer} H{head}", fontsize=8, color="red" if (layer, head) == (l, h) else "black")
                if (layer, head) == (l, h):
                    for side in ax.spines.values():
                        side.set(color="red", linewidth=2)
            token_ticks(axes[r, 0], self.tokens, axes="y", most=16)
        for head in range(H):
            token_ticks(axes[-1, head], self.tokens, axes="x", most=16)
        fig.colorbar(im, cax=fig.add_axes((1 - 0.75 / width, 0.6 / height, 0.12 / width, 1 - 1.05 / height)),
                     extend="max", label="attention weight")
        fig.suptitle(f"All heads (rows = layers, red frame = layer {l} head {h}, red box = token {i})", fontsize=10)
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

    Data: `distribution_before`, `distribution_after` (vocab_size,), `bars` (the tokens shown), `samples`
    (continuations as text), `sample_ids`, `metrics`, `error`, `last_redraw_seconds`.
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
        self.distribution_before = self.distribution_after = None
        t0 = time.perf_counter()
        idx, logits = self._prompt_logits()
        after = process_logits(logits, idx, **self._settings())
        self.distribution_before = torch.softmax(logits, dim=-1)[0].cpu()
        self.distribution_after = torch.softmax(after, dim=-1)[0].cpu()
        self._draw(idx, t0)
        self._sample()

    def _draw(self, idx: torch.Tensor, t0: float) -> None:
        before, after = self.distribution_before, self.distribution_after
        shown = torch.argsort(before, descending=True)[: self.SHOWN]
        labels = [token_label(t) for t in _token_strings(self.tokenizer, shown.tolist())]
        self.bars = {"ids": shown, "tokens": labels, "before": before[shown], "after": after[shown]}
        kept = int((after > 0).sum())
        entropy = {name: _entropy(p) for name, p in (("before", before), ("after", after))}
        self.metrics.update({"tokens kept": kept, "entropy before": entropy["before"],
                             "entropy after": entropy["after"]})

        fig = Figure(figsize=(10, 3.6), layout="constrained")
        ax = fig.subplots()
        x = np.arange(len(shown))
        ax.bar(x - 0.2, self.bars["before"].numpy(), width=0.4, color="#b0b0b0", label="model (before filtering)")
        ax.bar(x + 0.2, self.bars["after"].numpy(), width=0.4, color="C0", label="sampled from (after)")
        ax.set_xticks(x, labels, rotation=0 if all(len(t) <= 2 for t in labels) else 60, fontsize=8)
        tail = self.tokenizer.decode(idx[0, -8:].tolist())
        ax.set(ylabel="probability", xlabel=f"the {len(shown)} most likely next tokens",
               title=f"Next token after …{tail[-40:]!r}: {kept} of {len(after)} tokens can be drawn · "
                     f"entropy {entropy['before']:.2f} → {entropy['after']:.2f} nats")
        ax.legend(fontsize=8)
        self._show(fig, t0)
        s = self._settings()
        self.readout.value = (
            f"temperature {s['temperature']:.2f} · top-k {s['top_k'] or 'off'} · "
            f"top-p {'off' if s['top_p'] is None else format(s['top_p'], '.2f')} · "
            f"repetition penalty {s['repetition_penalty']:.2f} → <b>{kept}</b> of {len(after)} tokens can be drawn"
        )

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
        fig = Figure(figsize=(10, 6.4), layout="constrained")
        (a, b), (c, e) = fig.subplots(2, 2)
        if kind == "alibi":
            sim = self.matrix[d]  # (T, T) bias of head d
            allowed = np.tril(np.ones(sim.shape, dtype=bool))
            colors = matplotlib.colormaps["magma"].with_extremes(bad=MASKED_COLOR)
            seen = np.broadcast_to(np.arange(self.max_len) <= p, (self.n_head, self.max_len))  # future keys masked
            im = a.imshow(np.ma.masked_array(self.matrix[:, p, :].numpy(), ~seen), aspect="auto", cmap=colors,
                          interpolation="nearest")
            if not seen.all():
                a.add_patch(masked_cells_patch(seen))
            a.set_yticks(range(self.n_head))
            a.set(xlabel="key position", ylabel="head", title=f"bias added to the scores of query {p}, every head")
            fig.colorbar(im, ax=a, label="bias")
            im = b.imshow(np.ma.masked_array(sim.numpy(), ~allowed), cmap=colors, interpolation="nearest")
            b.add_patch(masked_cells_patch(allowed))
            b.set(xlabel="key position", ylabel="query position", title=f"head {d}: bias −slope·(i − j)")
            fig.colorbar(im, ax=b, label="bias")
            for h in range(self.n_head):
                c.plot(self.matrix[h, p, : p + 1].numpy(), color="C3" if h == d else "#bbbbbb", lw=2 if h == d else 1)
            c.set(xlabel="key position", ylabel="bias", title=f"query {p}: the bias of each head (red = head {d})")
            e.plot(torch.softmax(sim[p, : p + 1], dim=0).numpy(), color="C0")
            e.set(xlabel="key position", ylabel="weight",
                  title=f"head {d}, query {p}: attention if all scores were equal")
            self.readout.value = (f"ALiBi · {self.n_head} heads · head {d} slope "
                                  f"{-float(sim[1, 0]) if sim.shape[0] > 1 else 0:.4f} · query position {p}")
        else:
            m, sim = self.matrix, self.similarity
            top = float(m.abs().max()) or 1.0
            im = a.imshow(m.numpy(), aspect="auto", cmap="RdBu_r", vmin=-top, vmax=top, interpolation="nearest")
            a.axvline(d, color="k", lw=0.8)
            a.axhline(p, color="k", lw=0.8)
            a.set(xlabel="dimension", ylabel="position", title=f"{dict((v, k) for k, v in self.KINDS)[kind]}: "
                                                                f"{m.shape[0]} positions × {m.shape[1]} dimensions")
            fig.colorbar(im, ax=a, label="value")
            im = b.imshow(sim.numpy(), cmap="viridis", vmin=-1, vmax=1, interpolation="nearest")
            b.axhline(p, color="red", lw=0.8)
            b.set(xlabel="position", ylabel="position", title="cosine similarity of positions")
            fig.colorbar(im, ax=b, label="cosine similarity")
            c.plot(m[:, d].numpy(), color="C0")
            c.axvline(p, color="red", lw=0.8)
            c.set(xlabel="position", ylabel="value", title=f"dimension {d} along the positions")
            e.plot(sim[p].numpy(), color="C2")
            e.axvline(p, color="red", lw=0.8)
            e.set(xlabel="position", ylabel="cosine similarity", ylim=(-1.05, 1.05),
                  title=f"how similar position {p} is to every position")
            near = sim[p].clone()
            near[p] = -2
            self.readout.value = (f"{kind} · position {p} · dimension {d} = {float(m[p, d]):+.3f} · the most "
                                  f"similar other position is {int(near.argmax())} ({float(near.max()):.2f})")
        self._show(fig, t0)

    def __repr__(self) -> str:
        if self.error:
            return f"PositionalEncodingExplorer(error: {self.error})"
        return f"PositionalEncodingExplorer(kind={self.kind.value!r}, {self.max_len} positions)"
