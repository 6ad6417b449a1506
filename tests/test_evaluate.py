"""Tests of gpt_course.evaluate: the scores notebooks 13 and 15 report."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt_course.evaluate import (
    bits_per_byte,
    calibration_bins,
    distinct_n,
    expected_calibration_error,
    lcs_length,
    mean_rouge,
    perplexity,
    repeat_loss,
    rouge_l,
    rouge_n,
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
# ROUGE


def test_rouge_by_hand():
    cand, ref = "the cat was found under the bed", "the cat was under the bed"
    p, r, f = rouge_n(cand, ref, 1)  # 6 of 7 candidate words match, all 6 reference words are covered
    assert (p, r) == (6 / 7, 1.0) and math.isclose(f, 2 * (6 / 7) / (6 / 7 + 1))
    p, r, _ = rouge_n(cand, ref, 2)  # bigrams: 4 shared; 6 in the candidate, 5 in the reference
    assert (p, r) == (4 / 6, 4 / 5)
    p, r, _ = rouge_l(cand, ref)  # LCS "the cat was under the bed"
    assert (p, r) == (6 / 7, 1.0)


def test_rouge_counts_are_clipped_and_words_are_lowercased():
    assert rouge_n("the the the", "the cat", 1)[:2] == (1 / 3, 1 / 2)
    assert rouge_n("The Cat!", "the cat", 1).f1 == 1.0
    assert rouge_n("", "the cat", 1) == (0.0, 0.0, 0.0)
    assert rouge_n("cat", "cat", 2) == (0.0, 0.0, 0.0)  # no bigrams at all


def test_rouge_l_uses_a_subsequence_not_a_substring():
    ref = "police killed the gunman"  # Lin (2004), section 3.1
    assert lcs_length("police kill the gunman".split(), ref.split()) == 3
    assert rouge_l("police kill the gunman", ref).f1 == 0.75
    assert rouge_l("the gunman kill police", ref).f1 == 0.5
    assert lcs_length("abcbdab", "bdcaba") == 4  # CLRS's example


def test_mean_rouge():
    scores = mean_rouge(["the cat", "a dog"], ["the cat", "the dog"])
    assert scores["rouge1"] == pytest.approx((1.0 + 0.5) / 2)
    assert scores["rouge2"] == pytest.approx(0.5) and scores["rougeL"] == pytest.approx(0.75)


def test_rouge_matches_the_rouge_score_package():
    from rouge_score import rouge_scorer  # a test dependency (pyproject's "test" extra)

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    pairs = [("the cat was found under the bed", "the cat was under the bed"),
             ("Early life and career", "Early career"), ("a b a b a", "b a b"), ("", "x")]
    for c, r in pairs:
        ref = scorer.score(r, c)
        for key, ours in (("rouge1", rouge_n(c, r, 1)), ("rouge2", rouge_n(c, r, 2)), ("rougeL", rouge_l(c, r))):
            assert ours.precision == pytest.approx(ref[key].precision)
            assert ours.recall == pytest.approx(ref[key].recall)
            assert ours.f1 == pytest.approx(ref[key].fmeasure)


def test_wilson_interval_matches_scipy():
    from scipy.stats import binomtest

    from gpt_course.evaluate import wilson_interval

    for hits, n in [(0, 120), (3, 4), (60, 120), (74, 120), (5, 81), (120, 120)]:
        ci = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(hits, n) == pytest.approx((ci.low, ci.high), abs=1e-5)  # z = 1.96 vs 1.959964
    with pytest.raises(ValueError, match="n must be"):
        wilson_interval(0, 0)


# ----------------------------------------------------------------------------------------------
# Copying from the context


class Copier(Bigram):
    """Predicts, with confidence, the token `lag` positions back (an ideal induction head); uniform before that."""

    def __init__(self, lag, **kw):
        super().__init__(uniform=True, **kw)
        self.lag = lag

    def logits(self, idx):
        logits = torch.zeros(*idx.shape, self.config.vocab_size)
        t = torch.arange(idx.shape[1])
        source = t + 1 - self.lag  # the token that followed the same token one reading earlier
        ok = source >= 0
        rows = torch.arange(idx.shape[0])[:, None]
        logits[rows, t[ok][None, :], idx[:, source[ok]]] = 30.0
        return logits


def test_repeat_loss_of_an_ideal_copier_and_of_a_model_without_context():
    ids = stream(500, vocab_size=11).tolist()
    first, second = repeat_loss(Copier(lag=6, vocab_size=11, block_size=12), ids, length=6, n=20)
    assert first == pytest.approx(math.log(11), abs=1e-6) and second < 1e-6  # guesses, then copies
    # a bigram model sees the same previous token before each token of both readings: the same loss twice
    first, second = repeat_loss(Bigram(vocab_size=11, block_size=12), ids, length=6, n=20)
    assert first == pytest.approx(second, abs=1e-6) and first > 0.5


def test_repeat_loss_explains_passages_that_do_not_fit():
    with pytest.raises(ValueError, match="window of 12 tokens"):
        repeat_loss(Bigram(block_size=12), list(range(100)), length=7)
    with pytest.raises(ValueError, match="passages of 6 tokens"):
        repeat_loss(Bigram(block_size=12), [1, 2, 3], length=6)
