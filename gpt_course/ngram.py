"""A count-based n-gram language model: the baseline every neural model in the course has to beat.

Notebook 02 builds `NGramLM` by hand; notebooks 10 and 13 fit one per order (`fit_ngram_models`), keep the
order that scores best on validation text (`select_ngram_order`) and use it as a baseline. Scores are in nats, converted at the end: bits = nats / ln 2.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence

LN2 = math.log(2.0)


class _Unknown:
    """The single bucket that every symbol never seen in training falls into."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unk>"

    def __reduce__(self):
        return (_Unknown, ())


UNK = _Unknown()


def _count_ngrams(seq: str | tuple, max_order: int) -> list[Counter]:
    """counts[k] maps each k-gram (a str slice, or a tuple slice) to its count, k = 1..max_order."""
    n = len(seq)
    counts = [Counter()]
    for k in range(1, max_order + 1):
        slices = map(slice, range(0, n - k + 1), range(k, n + 1))
        counts.append(Counter(map(seq.__getitem__, slices)))
    return counts


def _modified_kn_discounts(table: dict) -> tuple[float, float, float, float]:
    """Chen & Goodman's discounts D(0)=0, D(1), D(2), D(3+) from the counts of counts."""
    n1, n2, n3, n4 = (Counter(table.values()).get(c, 0) for c in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:                  # too little data to estimate: one discount
        return (0.0, 0.75, 0.75, 0.75)
    y = n1 / (n1 + 2 * n2)
    estimates = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    # keep every discount positive, so that every context leaves some mass for unseen symbols
    return (0.0,) + tuple(min(max(d, 0.01), c) for c, d in zip((1, 2, 3), estimates))


class NGramLM:
    """A count-based n-gram language model over characters (fit on a `str`) or any hashable symbols.

    smoothing:
      * "kneser_ney": interpolated Kneser-Ney; lower orders use continuation counts (in how many
        different contexts a symbol was seen). `discount=None` estimates three discounts from the
        data (modified KN, Chen & Goodman 1998); a number uses that one absolute discount.
      * "witten_bell": interpolated Witten-Bell; a context that was followed by many different
        symbols keeps more mass for the lower order.
      * "add_k": add-k (Laplace for k=1) on the full-order counts, no interpolation.
    Interpolation bottoms out in a uniform distribution over the vocabulary plus one `UNK` bucket,
    so a symbol never seen in training still gets a nonzero probability and every NLL is finite.
    The first `order - 1` symbols of a sequence are predicted from the shorter context they have.
    """

    UNK = UNK

    def __init__(self, order: int, smoothing: str = "kneser_ney", k: float = 1.0,
                 discount: float | None = None):
        if order < 1:
            raise ValueError(f"order={order} must be at least 1 (order 1 is a unigram model)")
        if smoothing not in ("kneser_ney", "witten_bell", "add_k"):
            raise ValueError(f"smoothing={smoothing!r} must be 'kneser_ney', 'witten_bell' or 'add_k'")
        if k <= 0:
            raise ValueError(f"k={k} must be positive: add-k gives every symbol k extra counts")
        if discount is not None and not 0 < discount <= 1:
            raise ValueError(f"discount={discount} must be in (0, 1]: it is taken from every count")
        self.order, self.smoothing, self.k, self.discount = order, smoothing, k, discount
        self.vocab: list | None = None

    def __repr__(self) -> str:
        vocab = "unfitted" if self.vocab is None else f"vocab_size={self.vocab_size}"
        return f"NGramLM(order={self.order}, smoothing={self.smoothing!r}, {vocab})"

    @property
    def vocab_size(self) -> int:
        """Number of distinct symbols seen in training (the UNK bucket not included)."""
        return len(self.vocab)

    # -- fitting ---------------------------------------------------------------------------------

    def fit(self, seq: str | Iterable[Hashable]) -> "NGramLM":
        """Count every n-gram of order 1..order in `seq` and precompute the smoothed estimates."""
        is_text = isinstance(seq, str)
        seq = seq if is_text else tuple(seq)
        if not seq:
            raise ValueError("cannot fit an n-gram model on an empty sequence")
        return self._fit_counts(is_text, _count_ngrams(seq, self.order))

    def _fit_counts(self, is_text: bool, counts: list[Counter]) -> "NGramLM":
        self._is_text = is_text
        self._empty = "" if is_text else ()
        symbols = [g if is_text else g[0] for g in counts[1]]
        try:
            self.vocab = sorted(symbols)
        except TypeError:                         # symbols of mixed types: keep first-seen order
            self.vocab = symbols
        self._vocab_set = set(self.vocab)
        self._uniform = 1.0 / (len(self.vocab) + 1)
        if self.smoothing == "add_k":
            self._count, self._total = {}, defaultdict(int)
            for table in counts[1 : self.order + 1]:
                self._count.update(table)
                for g, c in table.items():
                    self._total[g[:-1]] += c
            self._total = dict(self._total)
            return self
        # Interpolated smoothing: p_k(w|h) = alpha[hw] + gamma[h] * p_{k-1}(w|h[1:]).
        # alpha and gamma hold every order at once (keys of different lengths never collide).
        self._alpha, self._gamma = {}, {}
        for k in range(1, self.order + 1):
            kn = self.smoothing == "kneser_ney"
            if kn and k < self.order:             # continuation counts N1+(. g) of each k-gram g
                table = Counter(g[1:] for g in counts[k + 1])
            else:
                table = counts[k]
            if kn:
                d = ((0.0,) + (self.discount,) * 3 if self.discount is not None
                     else _modified_kn_discounts(table))
            total, reserved = defaultdict(int), defaultdict(float)
            for g, c in table.items():
                h = g[:-1]
                total[h] += c
                reserved[h] += d[min(c, 3)] if kn else 1.0    # WB: distinct followers of h
            for g, c in table.items():
                h = g[:-1]
                if kn:
                    self._alpha[g] = (c - d[min(c, 3)]) / total[h]
                else:
                    self._alpha[g] = c / (total[h] + reserved[h])
            for h, t in total.items():
                self._gamma[h] = reserved[h] / t if kn else reserved[h] / (t + reserved[h])
        return self

    # -- probabilities ---------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if self.vocab is None:
            raise RuntimeError("this NGramLM has not been fitted yet: call .fit(training_sequence)")

    def _coerce(self, seq) -> str | tuple:
        if self._is_text:
            return seq if isinstance(seq, str) else "".join(seq)
        return tuple(seq)

    def _context(self, context) -> str | tuple:
        """The last order-1 symbols of `context`, in the model's key type."""
        context = self._coerce(context)
        return context[max(0, len(context) - self.order + 1) :] if self.order > 1 else self._empty

    def _prob(self, h: str | tuple, w) -> float:
        known = w in self._vocab_set
        if self.smoothing == "add_k":
            c = self._count.get(h + (w if self._is_text else (w,)), 0) if known else 0
            return (c + self.k) / (self._total.get(h, 0) + self.k * (len(self.vocab) + 1))
        hw = (h + (w if self._is_text else (w,))) if known else None
        p = self._uniform
        for j in range(len(h), -1, -1):           # shortest context first
            a = self._alpha.get(hw[j:], 0.0) if known else 0.0
            p = a + self._gamma.get(h[j:], 1.0) * p
        return p

    def prob(self, context, symbol) -> float:
        """P(symbol | context); only the last order-1 symbols of `context` matter.

        A symbol never seen in training (or `NGramLM.UNK`) gets the probability of the UNK bucket.
        """
        self._check_fitted()
        if self._is_text and symbol is not UNK and not (isinstance(symbol, str) and len(symbol) == 1):
            raise ValueError(f"a character model predicts one character at a time, got {symbol!r}")
        return self._prob(self._context(context), symbol)

    def log_prob(self, context, symbol) -> float:
        """ln P(symbol | context), in nats."""
        return math.log(self.prob(context, symbol))

    def distribution(self, context) -> dict:
        """The whole next-symbol distribution: {symbol: probability} over the vocabulary and UNK."""
        self._check_fitted()
        h = self._context(context)
        dist = {w: self._prob(h, w) for w in self.vocab}
        dist[UNK] = self._prob(h, UNK)
        return dist

    # -- scores on a sequence --------------------------------------------------------------------

    def nll(self, seq) -> float:
        """Total negative log-likelihood of `seq` in nats; every symbol is scored, the first
        ones with the shorter context they have."""
        self._check_fitted()
        seq = self._coerce(seq)
        n, log, total = self.order, math.log, 0.0
        if self.smoothing == "add_k":
            count, ctx_total, k = self._count, self._total, self.k
            kv = k * (len(self.vocab) + 1)
            for i in range(len(seq)):
                lo = max(0, i - n + 1)
                total -= log((count.get(seq[lo : i + 1], 0) + k) / (ctx_total.get(seq[lo:i], 0) + kv))
            return total
        alpha, gamma, uniform = self._alpha.get, self._gamma.get, self._uniform
        for i in range(len(seq)):
            p = uniform
            for s in range(i, max(0, i - n + 1) - 1, -1):      # contexts seq[s:i], shortest first
                g = gamma(seq[s:i])
                if g is None:                     # context never seen, nor any longer one: done
                    break
                p = alpha(seq[s : i + 1], 0.0) + g * p
            total -= log(p)
        return total

    def cross_entropy(self, seq) -> float:
        """Mean NLL per symbol, in nats."""
        n = len(seq)
        if n == 0:
            raise ValueError("cannot score an empty sequence")
        return self.nll(seq) / n

    def perplexity(self, seq) -> float:
        """exp(cross-entropy): the effective number of equally likely choices per symbol."""
        return math.exp(self.cross_entropy(seq))

    def bits_per_char(self, seq) -> float:
        """Cross-entropy in bits per symbol (per character for a character model)."""
        return self.cross_entropy(seq) / LN2

    def bits_per_byte(self, text: str) -> float:
        """Total NLL in bits over the UTF-8 bytes of `text`: comparable with any tokenizer."""
        self._check_fitted()
        if not self._is_text:
            raise ValueError("bits_per_byte needs a character model: fit it on a str")
        n_bytes = len(text.encode("utf-8"))
        if n_bytes == 0:
            raise ValueError("cannot score an empty text")
        return self.nll(text) / (LN2 * n_bytes)

    # -- generation ------------------------------------------------------------------------------

    def sample(self, n: int, context="", seed: int | None = None) -> str | list:
        """Draw `n` symbols one at a time after `context` (never the UNK bucket)."""
        self._check_fitted()
        rng = random.Random(seed)
        history = list(self._coerce(context))
        for _ in range(n):
            dist = self.distribution(history[-self.order :])
            history.append(rng.choices(self.vocab, weights=[dist[w] for w in self.vocab])[0])
        out = history[len(history) - n :] if n else []
        return "".join(out) if self._is_text else out


def fit_ngram_models(
    train: str | Sequence[Hashable],
    orders: Iterable[int] = range(1, 9),
    smoothing: str = "kneser_ney",
    **kwargs,
) -> dict[int, "NGramLM"]:
    """One fitted `NGramLM` per order in `orders` (`kwargs` go to it: `k`, `discount`).

    The n-grams of `train` are counted once, up to the largest order, and shared by all the
    models: the same models as `NGramLM(n, smoothing).fit(train)` for each n, fitted faster.
    """
    orders = sorted(set(orders))
    if not orders or orders[0] < 1:
        raise ValueError(f"orders={orders} must be a non-empty range of orders >= 1")
    is_text = isinstance(train, str)
    train = train if is_text else tuple(train)
    if not train:
        raise ValueError("cannot fit an n-gram model on an empty sequence")
    counts = _count_ngrams(train, orders[-1])
    return {n: NGramLM(n, smoothing, **kwargs)._fit_counts(is_text, counts[: n + 1]) for n in orders}


def select_ngram_order(
    train: str | Sequence[Hashable],
    valid: str | Sequence[Hashable],
    orders: Iterable[int] = range(1, 9),
    smoothing: str = "kneser_ney",
    **kwargs,
) -> tuple[int, dict[int, float]]:
    """Fit one `NGramLM` per order on `train` (`kwargs` go to it: `k`, `discount`) and score each
    on `valid`; return the order with the lowest bits per symbol and the score of every order.

    The n-grams are counted once, up to the largest order, and shared by all the models
    (`fit_ngram_models`).
    """
    models = fit_ngram_models(train, orders, smoothing, **kwargs)
    scores = {n: lm.bits_per_char(valid) for n, lm in models.items()}
    return min(scores, key=scores.get), scores
