"""Tests of gpt_course.evaluate: the scores notebooks 02 and 13 report."""

import math
import random
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from gpt_course.evaluate import (
    UNK,
    NGramLM,
    bits_per_byte,
    calibration_bins,
    distinct_n,
    expected_calibration_error,
    fit_ngram_models,
    perplexity,
    select_ngram_order,
    self_similarity,
    token_nll,
)

# ----------------------------------------------------------------------------------------------
# Stand-in models with the course's interface: model.config, logits, loss = model(idx, targets)


class Bigram(nn.Module):
    """Next-token logits from the current token only; `uniform=True` gives all-zero logits."""

    def __init__(self, vocab_size=11, block_size=8, uniform=False, seed=0):
        super().__init__()
        self.config = SimpleNamespace(vocab_size=vocab_size, block_size=block_size)
        torch.manual_seed(seed)
        self.table = nn.Embedding(vocab_size, vocab_size)
        if uniform:
            nn.init.zeros_(self.table.weight)
        self.seen_training_mode = []

    def logits(self, idx):
        return self.table(idx)                               # (B, T, vocab)

    def forward(self, idx, targets=None):
        assert idx.shape[1] <= self.config.block_size, "window longer than the block"
        self.seen_training_mode.append(self.training)
        logits = self.logits(idx)
        loss = None if targets is None else F.cross_entropy(logits.transpose(1, 2), targets)
        return logits, loss


class PrefixMean(Bigram):
    """Uses its whole window: logits from the running mean of the embeddings so far."""

    def logits(self, idx):
        e = self.table(idx).double()                          # (B, T, vocab)
        steps = torch.arange(1, idx.shape[1] + 1, dtype=e.dtype)[None, :, None]
        return 3 * e.cumsum(1) / steps


def stream(n, vocab_size=11, seed=0):
    return torch.randint(vocab_size, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("n", [2, 3, 8, 9, 10, 37])
@pytest.mark.parametrize("stride", [1, 3, 4, 8])
def test_token_nll_scores_every_token_but_the_first(n, stride):
    _, scored = token_nll(Bigram(block_size=8), stream(n), stride=stride)
    assert scored == n - 1


def test_uniform_model_has_perplexity_vocab_size():
    model = Bigram(vocab_size=37, uniform=True)
    assert perplexity(model, stream(100, 37)) == pytest.approx(37, abs=1e-4)


def test_stride_does_not_matter_to_a_bigram_model():
    # a bigram model ignores all but the last token, so extra left context cannot change a score
    model, tokens = Bigram(), stream(61)
    values = [perplexity(model, tokens, stride=s) for s in range(1, 9)]
    assert values == pytest.approx([values[0]] * 8, rel=1e-6)


def test_stride_one_scores_each_token_with_its_full_window():
    model, tokens = PrefixMean(block_size=6), stream(40)
    W = model.config.block_size
    by_hand = 0.0
    for i in range(1, len(tokens)):
        context = tokens[max(0, i - W) : i][None]             # the W tokens before token i
        logits, _ = model(context)
        by_hand -= torch.log_softmax(logits[0, -1], -1)[tokens[i]].item()
    total, _ = token_nll(model, tokens, stride=1)
    assert total == pytest.approx(by_hand, rel=1e-9)


@pytest.mark.parametrize("n,stride", [(25, 6), (26, 6), (40, 3), (40, 2)])
def test_sliding_windows_as_in_the_hugging_face_guide(n, stride):
    # windows start at 0, stride, 2*stride, ...; the last one ends at the last token. Each token is
    # scored by the first window that reaches it, with that window's tokens before it as context.
    model, tokens = PrefixMean(block_size=6), stream(n)
    W = model.config.block_size
    starts = list(range(0, n - 1 - W, stride)) + [n - 1 - W]
    by_hand = 0.0
    for i in range(1, n):
        start = next(s for s in starts if s + W >= i)
        assert i - start >= min(i, W - stride)                # never less context than promised
        logits, _ = model(tokens[start:i][None])
        by_hand -= torch.log_softmax(logits[0, -1], -1)[tokens[i]].item()
    assert token_nll(model, tokens, stride=stride)[0] == pytest.approx(by_hand, rel=1e-9)


def test_batching_windows_does_not_change_the_result():
    model, tokens = PrefixMean(), stream(100)
    one = token_nll(model, tokens, stride=3, batch_size=1)
    many = token_nll(model, tokens, stride=3, batch_size=64)
    assert one[1] == many[1] and one[0] == pytest.approx(many[0], rel=1e-12)


def test_evaluation_runs_in_eval_mode_and_restores_training_mode():
    model = Bigram().train()
    perplexity(model, stream(30))
    assert model.seen_training_mode and not any(model.seen_training_mode)
    assert model.training


def test_bad_stride_is_explained():
    with pytest.raises(ValueError, match="stride"):
        token_nll(Bigram(block_size=8), stream(20), stride=9)


class CharTokenizer:
    def __init__(self, alphabet):
        self.stoi = {c: i for i, c in enumerate(alphabet)}
        self.vocab_size = len(alphabet)

    def encode(self, text):
        return [self.stoi[c] for c in text]

    def decode(self, ids):
        return "".join(list(self.stoi)[i] for i in ids)


def test_bits_per_byte_of_a_uniform_model_by_hand():
    tok = CharTokenizer("abcdeéö ")
    text = "abé cöd eaé "                                      # 12 characters, 15 UTF-8 bytes
    model = Bigram(vocab_size=tok.vocab_size, block_size=4, uniform=True)
    # every token, the first one included, costs ln(vocab_size) nats
    expected = len(text) * math.log(tok.vocab_size) / math.log(2) / 15
    assert bits_per_byte(model, tok, text) == pytest.approx(expected, rel=1e-6)


# ----------------------------------------------------------------------------------------------
# Diversity


def test_distinct_n_by_hand():
    assert distinct_n("the cat the cat", 1) == 2 / 4
    assert distinct_n(["the cat the cat"], 2) == 2 / 3        # (the cat) twice, (cat the) once
    assert distinct_n(["a b", "a b"], 2) == 1 / 2             # pooled over texts
    assert distinct_n("aaaa", 1, unit="char") == 1 / 4
    assert distinct_n("abcd", 2, unit="char") == 1.0
    assert distinct_n([[1, 2, 3], [1, 2, 4]], 2) == 3 / 4     # token-id sequences
    assert distinct_n([5, 5, 5], 1) == 1 / 3                  # one token-id sequence
    assert distinct_n(["too short"], 3) == 0.0


def test_self_similarity_by_hand():
    assert self_similarity(["a b c", "a b c", "a b c"]) == 1.0
    assert self_similarity(["a b c", "d e f"]) == 0.0
    # bigram sets {ab, bc} and {ab, bd}: 1 shared of 3
    assert self_similarity(["a b c", "a b d"]) == pytest.approx(1 / 3)


# ----------------------------------------------------------------------------------------------
# Calibration


def test_perfectly_calibrated_predictions_have_ece_near_zero():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200_000)
    correct = rng.uniform(size=p.size) < p                    # right with probability p
    assert expected_calibration_error(p, correct) < 0.01
    overconfident = rng.uniform(size=p.size) < p**3
    assert expected_calibration_error(p, overconfident) > 0.1


def test_calibration_bins_count_every_prediction_once():
    probs = torch.tensor([0.0, 0.05, 0.15, 0.95, 1.0])
    confidence, accuracy, count = calibration_bins(probs, [1, 0, 1, 1, 0], n_bins=10)
    assert count.tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]   # 1.0 falls in the top bin
    assert confidence[0] == pytest.approx(0.025) and accuracy[0] == 0.5
    assert np.isnan(accuracy[5])                              # empty bins are left out of plots


# ----------------------------------------------------------------------------------------------
# Count-based n-gram language model

SMOOTHINGS = [("kneser_ney", {}), ("kneser_ney", {"discount": 0.75}), ("witten_bell", {}),
              ("add_k", {"k": 0.5})]
TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat. " * 3


@pytest.mark.parametrize("smoothing,kwargs", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_ngram_distributions_sum_to_one(smoothing, kwargs, order):
    lm = NGramLM(order, smoothing, **kwargs).fit(TEXT)
    rng = random.Random(order)
    contexts = ["", "t", "the ", "zzz", "on the", "q cat"] + [
        TEXT[i : i + rng.randrange(8)] for i in rng.sample(range(len(TEXT) - 8), 10)]
    for context in contexts:
        dist = lm.distribution(context)
        assert set(dist) == set(lm.vocab) | {UNK}
        assert sum(dist.values()) == pytest.approx(1.0, abs=1e-9)
        assert min(dist.values()) > 0


@settings(max_examples=40, deadline=None)
@given(train=st.lists(st.integers(0, 5), min_size=1, max_size=60),
       context=st.lists(st.integers(0, 7), max_size=4),
       order=st.integers(1, 4), which=st.integers(0, len(SMOOTHINGS) - 1))
def test_ngram_over_token_ids_is_normalised_for_any_training_data(train, context, order, which):
    smoothing, kwargs = SMOOTHINGS[which]
    lm = NGramLM(order, smoothing, **kwargs).fit(train)
    assert sum(lm.distribution(tuple(context)).values()) == pytest.approx(1.0, abs=1e-9)


def test_unigram_perplexity_matches_the_closed_form():
    # "aab": counts a=2, b=1, N=3, vocabulary {a, b} plus the unknown bucket
    add_one = NGramLM(1, "add_k", k=1.0).fit("aab")           # p = (c + 1) / (N + 3)
    expected = math.exp(-(2 * math.log(3 / 6) + math.log(2 / 6)) / 3)
    assert add_one.perplexity("aab") == pytest.approx(expected, rel=1e-12)
    witten_bell = NGramLM(1, "witten_bell").fit("aab")        # p = (c + 2 * 1/3) / (N + 2)
    expected = math.exp(-(2 * math.log((2 + 2 / 3) / 5) + math.log((1 + 2 / 3) / 5)) / 3)
    assert witten_bell.perplexity("aab") == pytest.approx(expected, rel=1e-12)


def textbook_prob(text, h, w, smoothing, order, d=0.75):
    """Interpolated KN (absolute discount d) or Witten-Bell, straight from the formulas."""
    vocab = set(text)
    k = len(h) + 1
    kgrams = Counter(text[i : i + k] for i in range(len(text) - k + 1))
    if smoothing == "kneser_ney" and k < order:              # continuation counts N1+(. h w)
        longer = Counter(text[i : i + k + 1] for i in range(len(text) - k))
        follow = Counter(g[1:] for g in longer if g[1:-1] == h)
    else:
        follow = Counter({g: c for g, c in kgrams.items() if g[:-1] == h})
    total, types = sum(follow.values()), len(follow)
    lower = 1 / (len(vocab) + 1) if k == 1 else textbook_prob(text, h[1:], w, smoothing, order, d)
    if total == 0:
        return lower
    if smoothing == "kneser_ney":
        return max(follow[h + w] - d, 0) / total + d * types / total * lower
    return (follow[h + w] + types * lower) / (total + types)


@pytest.mark.parametrize("smoothing", ["kneser_ney", "witten_bell"])
def test_ngram_probabilities_match_the_textbook_formulas(smoothing):
    lm = NGramLM(3, smoothing, discount=0.75 if smoothing == "kneser_ney" else None).fit(TEXT)
    for h, w in [("th", "e"), ("e ", "c"), ("a ", "m"), ("zz", "a"), ("t.", " "), ("og", "q")]:
        assert lm.prob(h, w) == pytest.approx(textbook_prob(TEXT, h, w, smoothing, 3), abs=1e-12)


@pytest.mark.parametrize("smoothing,kwargs", SMOOTHINGS)
def test_bigram_beats_unigram_on_structured_text(smoothing, kwargs):
    train, test = TEXT[: len(TEXT) // 2], TEXT[len(TEXT) // 2 :]
    unigram = NGramLM(1, smoothing, **kwargs).fit(train)
    bigram = NGramLM(2, smoothing, **kwargs).fit(train)
    assert bigram.bits_per_char(test) < unigram.bits_per_char(test) - 0.5


@pytest.mark.parametrize("smoothing,kwargs", SMOOTHINGS)
def test_unseen_characters_get_a_finite_cost(smoothing, kwargs):
    lm = NGramLM(3, smoothing, **kwargs).fit(TEXT)
    nll = lm.nll("the ŋat sat ön thé mat!")                   # characters never seen in training
    assert math.isfinite(nll) and nll > lm.nll("the cat sat on the mat.")
    assert lm.prob("the ", "ŋ") == lm.prob("the ", UNK) > 0


def test_character_and_token_id_models_agree():
    # str contexts are only a faster key: the model over a tuple of characters is the same model
    for smoothing, kwargs in SMOOTHINGS:
        as_text = NGramLM(4, smoothing, **kwargs).fit(TEXT)
        as_tuple = NGramLM(4, smoothing, **kwargs).fit(tuple(TEXT))
        test = "a cat sat on a log."
        assert as_text.nll(test) == pytest.approx(as_tuple.nll(tuple(test)), rel=1e-12)


def test_nll_is_the_sum_of_log_probabilities_in_context():
    lm = NGramLM(3).fit(TEXT)
    test = "the dog met a cat."
    by_hand = -sum(lm.log_prob(test[:i], c) for i, c in enumerate(test))
    assert lm.nll(test) == pytest.approx(by_hand, rel=1e-12)
    assert lm.prob("xyz the d", "o") == lm.prob("e d", "o")   # only the last order-1 symbols count


def test_bits_per_byte_counts_utf8_bytes():
    lm = NGramLM(2, "witten_bell").fit("héllo wörld " * 5)
    text = "héllo wörld"                                      # 11 characters, 13 bytes
    assert lm.bits_per_byte(text) == pytest.approx(lm.bits_per_char(text) * 11 / 13)


def test_select_ngram_order_picks_the_best_validation_score():
    best, scores = select_ngram_order(TEXT[:150], TEXT[150:], orders=range(1, 5))
    assert sorted(scores) == [1, 2, 3, 4]
    assert scores[best] == min(scores.values()) and best > 1
    assert scores[3] == pytest.approx(NGramLM(3).fit(TEXT[:150]).bits_per_char(TEXT[150:]))


@pytest.mark.parametrize("smoothing", ["kneser_ney", "witten_bell", "add_k"])
def test_fit_ngram_models_match_separately_fitted_models(smoothing):
    train, test = TEXT[:150], TEXT[150:]
    models = fit_ngram_models(train, orders=[4, 1, 2, 2], smoothing=smoothing)
    assert sorted(models) == [1, 2, 4]
    for n, lm in models.items():
        assert lm.order == n and lm.smoothing == smoothing
        assert lm.nll(test) == pytest.approx(NGramLM(n, smoothing).fit(train).nll(test), rel=1e-12)
    ids = [1, 2, 3, 1, 2, 4, 1, 2, 3]
    tokens = fit_ngram_models(ids, orders=range(1, 4))
    assert tokens[3].nll([1, 2, 3]) == pytest.approx(NGramLM(3).fit(ids).nll([1, 2, 3]), rel=1e-12)


def test_fit_ngram_models_rejects_bad_input():
    with pytest.raises(ValueError, match="orders"):
        fit_ngram_models(TEXT, orders=[])
    with pytest.raises(ValueError, match="orders"):
        fit_ngram_models(TEXT, orders=[0, 1])
    with pytest.raises(ValueError, match="empty"):
        fit_ngram_models("", orders=[2])


def test_sampling_is_reproducible_and_stays_in_the_vocabulary():
    lm = NGramLM(4).fit(TEXT)
    a, b = lm.sample(50, context="the ", seed=1), lm.sample(50, context="the ", seed=1)
    assert a == b and len(a) == 50 and set(a) <= set(TEXT)
    ids = NGramLM(2).fit([1, 2, 3, 1, 2, 3]).sample(10, context=[1], seed=0)
    assert len(ids) == 10 and set(ids) <= {1, 2, 3}
