"""Notebook 14's recipe: pooling, the frozen-body shortcut, the threshold chosen on valid, the spam splits and the
held-out protocol."""
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gpt_course import GPT, GPTConfig
from gpt_course.finetune import (
    SPAM_RUNS,
    SPAM_SEEDS,
    ClassifierRecipe,
    GPTClassifier,
    bag_of_words_baseline,
    choose_threshold,
    classification_metrics,
    encode_classification,
    fine_tune_and_test,
    fine_tune_classifier,
    freeze,
    pad_batch,
    pooled_features,
    predict_proba,
    sms_spam_task,
    split_labelled,
    train_classifier,
    undersample,
)
from gpt_course.tokenizers import ByteTokenizer

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def tiny_gpt(seed=0, **overrides) -> GPT:
    torch.manual_seed(seed)
    cfg = {"vocab_size": 256, "block_size": 32, "n_layer": 2, "n_head": 2, "n_embd": 32}
    return GPT(GPTConfig(**{**cfg, **overrides})).eval()


def toy_task(n=64, seed=0):
    """Class 1 texts contain an 'x' somewhere, class 0 texts do not."""
    g = torch.Generator().manual_seed(seed)
    texts, labels = [], []
    for i in range(n):
        s = "".join("abc"[j] for j in torch.randint(0, 3, (int(torch.randint(3, 12, (1,), generator=g)),),
                                                        generator=g).tolist())
        if i % 2:
            k = int(torch.randint(0, len(s), (1,), generator=g))
            s = s[:k] + "x" + s[k + 1:]
        texts.append(s)
        labels.append(i % 2)
    return texts, labels


@pytest.mark.parametrize("seed", range(2))
def test_mean_pooling_averages_the_real_tokens_and_ignores_padding(seed):
    clf = GPTClassifier(tiny_gpt(seed), n_classes=2, pad_id=0, pooling="mean").eval()
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randint(1, 256, (n,), generator=g).tolist() for n in (5, 1, 9)]
    ids, lengths = pad_batch(seqs, pad_id=0)
    with torch.no_grad():
        logits = clf(ids, lengths)
        for i, s in enumerate(seqs):  # each row alone, no padding: the head on the plain mean
            alone = clf.head(clf.body.hidden(torch.tensor([s]))[0].mean(0))
            torch.testing.assert_close(logits[i], alone)
        noisy = ids.clone()
        pad = torch.arange(ids.shape[1])[None, :] >= lengths[:, None]
        noisy[pad] = torch.randint(1, 256, (int(pad.sum()),), generator=g)
        torch.testing.assert_close(clf(noisy, lengths), logits)


def test_unknown_pooling_is_a_clear_error():
    with pytest.raises(ValueError, match="pooling='max' is unknown"):
        GPTClassifier(tiny_gpt(), 2, pad_id=0, pooling="max")


def test_pooled_features_are_what_the_head_reads():
    clf = GPTClassifier(tiny_gpt(), 2, pad_id=0, pooling="last").eval()
    data = encode_classification(ByteTokenizer(), ["abc", "a", "abcabcab"], [0, 1, 0], pad_id=0)
    features = pooled_features(clf, data, batch_size=2)
    assert features.shape == (3, 32)
    with torch.no_grad():
        torch.testing.assert_close(clf.head(features).softmax(-1), predict_proba(clf, data))


def test_a_frozen_body_runs_once_per_data_set_and_does_not_move(monkeypatch):
    texts, labels = toy_task(32)
    data = encode_classification(ByteTokenizer(), texts, labels, pad_id=0)
    clf = GPTClassifier(tiny_gpt(), 2, pad_id=0)
    freeze(clf, "head")
    before = {n: p.detach().clone() for n, p in clf.body.named_parameters()}
    calls = []
    hidden = clf.body.hidden
    monkeypatch.setattr(clf.body, "hidden", lambda idx, *a, **k: calls.append(idx.shape[0]) or hidden(idx, *a, **k))
    head_before = clf.head.weight.detach().clone()
    train_classifier(clf, data, epochs=5, lr=1e-2, batch_size=8, valid=data, progress=False)
    assert sum(calls) == 2 * len(data)  # the training set once and the validation set once, for 20 steps
    assert all(torch.equal(p, before[n]) for n, p in clf.body.named_parameters())
    assert not torch.equal(clf.head.weight, head_before)


def test_choose_threshold_maximises_f1_on_the_grid_and_prefers_the_middle():
    p = np.array([0.05, 0.2, 0.3, 0.6, 0.7, 0.95])
    y = np.array([0, 0, 1, 0, 1, 1])
    t = choose_threshold(p, y)
    f1 = lambda thr: classification_metrics(y, (p >= thr).astype(int))["f1"]
    assert all(f1(t) >= f1(u) for u in np.arange(1, 100) / 100)
    # a perfectly separated set: every threshold between the classes ties; the one nearest 0.5 wins
    assert choose_threshold([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 0.5
    assert choose_threshold([0.01, 0.02, 0.95, 0.97], [0, 0, 1, 1]) == 0.5
    # a model calibrated to a spam-heavy mix: the best threshold sits above 0.5
    assert choose_threshold([0.1, 0.6, 0.7, 0.9, 0.95], [0, 0, 0, 1, 1]) > 0.7
    with pytest.raises(ValueError, match="no positive"):
        choose_threshold([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match="same length"):
        choose_threshold([0.1, 0.2], [0, 1, 1])


def test_split_labelled_is_stratified_disjoint_and_reproducible():
    rows = [(0, f"ham {i}") for i in range(700)] + [(1, f"spam {i}") for i in range(100)]
    parts = split_labelled(rows, seed=3)
    assert parts == split_labelled(rows, seed=3) and parts != split_labelled(rows, seed=4)
    counts = {name: (labels.count(0), labels.count(1)) for name, (_, labels) in parts.items()}
    assert counts == {"test": (140, 20), "valid": (70, 10), "train": (490, 70)}  # the real 7:1 mix everywhere
    seen = [set(texts) for texts, _ in parts.values()]
    assert sum(map(len, seen)) == 800 and len(set().union(*seen)) == 800
    with pytest.raises(ValueError, match="sum to less than 1"):
        split_labelled(rows, test_share=0.6, valid_share=0.5)


def test_undersample_keeps_the_rare_class_and_caps_the_others():
    texts = [f"t{i}" for i in range(50)]
    labels = [1 if i % 10 == 0 else 0 for i in range(50)]  # 5 positives, 45 negatives
    kept, kept_labels = undersample(texts, labels, per_rarest=3, seed=0)
    assert kept_labels.count(1) == 5 and kept_labels.count(0) == 15
    assert kept == sorted(kept, key=lambda t: int(t[1:]))  # the original order
    assert undersample(texts, labels, per_rarest=20)[1].count(0) == 45  # fewer than the cap: all kept
    with pytest.raises(ValueError, match="at least 1"):
        undersample(texts, labels, per_rarest=0)


def test_sms_spam_task_has_the_notebooks_sets():
    task = sms_spam_task(ByteTokenizer(), pad_id=0, max_len=64)
    counts = {name: (labels.count(0), labels.count(1)) for name, (_, labels, _) in task.items()}
    assert counts == {"train": (1374, 458), "valid": (451, 65), "test": (903, 130)}
    texts = [set(t) for t, _, _ in task.values()]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert task["test"][2].ids.shape[1] <= 64 and torch.equal(task["train"][2].labels, torch.tensor(task["train"][1]))


def test_spam_runs_are_the_four_transfer_settings():
    assert list(SPAM_RUNS) == ["from scratch", "frozen body", "last 2 blocks", "full fine-tune"]
    assert [r.pretrained for r in SPAM_RUNS.values()] == [False, True, True, True]
    assert [r.mode for r in SPAM_RUNS.values()] == ["full", "head", "last:2", "full"]
    assert len(SPAM_SEEDS) >= 3


def test_fine_tune_and_test_chooses_the_threshold_on_valid_and_scores_test_once():
    tok = ByteTokenizer()
    texts, labels = toy_task(96)
    train, valid, test = (encode_classification(tok, texts[a:b], labels[a:b], pad_id=0)
                          for a, b in ((0, 48), (48, 72), (72, 96)))
    model = tiny_gpt(dropout=0.0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    recipe = ClassifierRecipe(mode="full", lr=3e-3, epochs=8, batch_size=16)
    r = fine_tune_and_test(model, recipe, train, valid, test, pad_id=0, seed=1, progress=False)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # the pretrained model is untouched
    assert r["threshold"] == choose_threshold(predict_proba(r["classifier"], valid)[:, 1], valid.labels)
    assert r["f1"] == classification_metrics(test.labels, (r["p_test"] >= r["threshold"]).long())["f1"]
    assert r["accuracy"] >= 0.8
    again = fine_tune_and_test(model, recipe, train, valid, test, pad_id=0, seed=1, progress=False)
    torch.testing.assert_close(again["p_test"], r["p_test"])  # the seed fixes the run
    clf, _ = fine_tune_classifier(model, dataclasses.replace(recipe, pretrained=False), train, pad_id=0, progress=False)
    assert not torch.equal(clf.body.transformer.wte.weight, model.transformer.wte.weight)  # from scratch: fresh body


def test_bag_of_words_baseline_uses_the_same_protocol():
    train = (["free prize now", "call to win cash", "see you at home", "lunch at noon?"] * 5, [1, 1, 0, 0] * 5)
    valid = (["win a free prize", "home by noon", "cash prize call", "see you soon"], [1, 0, 1, 0])
    test = (["free cash", "at home now", "win now", "lunch soon"], [1, 0, 1, 0])
    r = bag_of_words_baseline(train, valid, test)
    assert r["accuracy"] == 1.0 and r["f1"] == 1.0 and 0 < r["threshold"] < 1
    assert r["vocabulary"] == 13 and r["trainable"] == 14


@pytest.mark.slow
def test_finetune_benchmark_quick_spam():
    out = subprocess.run([sys.executable, str(BENCH / "finetune.py"), "--quick", "--only", "spam"], check=False,
                         capture_output=True, text=True, timeout=600, env={**os.environ, "GPT_COURSE_FAST": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)["spam"]
    for key in ("accuracy_mean", "accuracy_std", "f1_mean", "seeds", "bag_of_words_f1", "test_messages", "config"):
        assert key in r, key
    assert r["test_messages"] == 256 and r["seeds"] == [0]
    assert 0.5 <= r["accuracy_mean"] <= 1.0 and 0.0 <= r["f1_mean"] <= 1.0 and r["accuracy_std"] >= 0.0
    assert 0.7 <= r["bag_of_words_f1"] <= 1.0  # words alone separate spam well
    assert r["runs"]["full fine-tune"]["threshold"][0] == r["runs"]["full fine-tune"]["threshold_mean"]
