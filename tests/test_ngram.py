"""Tests of gpt_course.ngram: the count-based n-gram model of notebook 02 and the baselines of notebooks 10 and 13."""

import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpt_course.ngram import UNK, NGramLM, fit_ngram_models, select_ngram_order


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


