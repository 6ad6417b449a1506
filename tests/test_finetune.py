"""Fine-tuning: the classifier reads the last real token, freeze modes, loss masking, a tiny SFT run."""
import math

import numpy as np
import pytest
import torch

from gpt_course import GPT, GPTConfig
from gpt_course.finetune import (
    IGNORE_INDEX, GPTClassifier, build_sft_example, class_weights,
    classification_metrics, encode_classification, evaluate_classifier, format_example,
    freeze, last_token_lengths, length_grouped_batches, predict_proba, pad_batch,
    sft_batches, sft_loss, train_classifier, train_sft,
)
from gpt_course.generate import generate_text
from gpt_course.tokenizers import ByteTokenizer
from gpt_course.train import TrainConfig


def tiny_gpt(seed=0, **overrides) -> GPT:
    torch.manual_seed(seed)
    cfg = dict(vocab_size=256, block_size=32, n_layer=3, n_head=2, n_embd=32)
    return GPT(GPTConfig(**{**cfg, **overrides})).eval()


# ----------------------------------------------------------------------------------------- classification


def test_pad_batch_keeps_the_start_and_tracks_lengths():
    ids, lengths = pad_batch([[5, 6, 7, 8, 9], [1, 2], [3]], pad_id=0, max_len=3)
    assert ids.tolist() == [[5, 6, 7], [1, 2, 0], [3, 0, 0]]
    assert lengths.tolist() == [3, 2, 1]
    ids, lengths = pad_batch([[4], [1, 2]], pad_id=9)
    assert ids.tolist() == [[4, 9], [1, 2]] and lengths.tolist() == [1, 2]
    with pytest.raises(ValueError, match="empty"):
        pad_batch([[1], []], pad_id=0)


def test_last_token_lengths_from_pad_id():
    idx = torch.tensor([[4, 5, 0, 0], [4, 0, 5, 0], [1, 2, 3, 4]])
    assert last_token_lengths(idx, 0).tolist() == [2, 3, 4]
    with pytest.raises(ValueError, match="only pad_id"):
        last_token_lengths(torch.tensor([[0, 0]]), 0)


@pytest.mark.parametrize("seed", range(3))
def test_classifier_reads_the_last_real_token_and_ignores_padding(seed):
    clf = GPTClassifier(tiny_gpt(seed), n_classes=3, pad_id=0).eval()
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randint(1, 256, (n,), generator=g).tolist() for n in (7, 3, 12, 1)]
    ids, lengths = pad_batch(seqs, pad_id=0)
    with torch.no_grad():
        logits = clf(ids, lengths)
        assert logits.shape == (4, 3)
        # whatever sits in the padded positions, the logits do not change
        noisy = ids.clone()
        pad = torch.arange(ids.shape[1])[None, :] >= lengths[:, None]
        noisy[pad] = torch.randint(0, 256, (int(pad.sum()),), generator=g)
        torch.testing.assert_close(clf(noisy, lengths), logits)
        # nor does more padding, and lengths found from pad_id agree
        wider = torch.cat([ids, torch.zeros(4, 5, dtype=torch.long)], dim=1)
        torch.testing.assert_close(clf(wider), logits)
        # each row equals the head on the last hidden state of the sequence alone
        for i, s in enumerate(seqs):
            alone = clf.head(clf.body.hidden(torch.tensor([s]))[0, -1])
            torch.testing.assert_close(logits[i], alone)


def test_classifier_shares_the_body_and_drops_the_lm_head():
    body = tiny_gpt()
    clf = GPTClassifier(body, 2, pad_id=0)
    assert clf.body is body and clf.body.transformer.wte.weight is body.transformer.wte.weight
    names = {n for n, _ in clf.named_parameters()}
    assert not any("lm_head" in n for n in names) and {"head.weight", "head.bias"} <= names  # tied: no extra matrix
    assert sum(p.numel() for p in clf.parameters()) == body.num_parameters() + 2 * 32 + 2
    assert clf.head.weight.shape == (2, 32)


def _trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_freeze_modes_leave_exactly_the_intended_parameters_trainable():
    clf = GPTClassifier(tiny_gpt(), 2, pad_id=0)
    every = {n for n, _ in clf.named_parameters()}
    assert freeze(clf, "head") == 32 * 2 + 2
    assert _trainable(clf) == {"head.weight", "head.bias"}
    n = freeze(clf, "last:1")
    expected = {x for x in every if x.startswith(("head.", "body.transformer.ln_f.", "body.transformer.h.2."))}
    assert _trainable(clf) == expected
    assert n == sum(p.numel() for name, p in clf.named_parameters() if name in expected)
    freeze(clf, "last:2")
    assert _trainable(clf) == expected | {x for x in every if x.startswith("body.transformer.h.1.")}
    assert freeze(clf, "full") == sum(p.numel() for p in clf.parameters())
    assert _trainable(clf) == every
    for bad in ("last:0", "last:4", "body", "last"):
        with pytest.raises(ValueError, match="unknown"):
            freeze(clf, bad)


def test_frozen_parameters_do_not_move_in_training():
    clf = GPTClassifier(tiny_gpt(), 2, pad_id=0)
    freeze(clf, "last:1")
    before = {n: p.detach().clone() for n, p in clf.named_parameters()}
    data = encode_classification(ByteTokenizer(), ["aaa", "bbbb", "ab", "ba"], [0, 1, 0, 1], pad_id=0)
    train_classifier(clf, data, epochs=2, lr=1e-2, batch_size=2, progress=False)
    for n, p in clf.named_parameters():
        moved = not torch.equal(p, before[n])
        assert moved == n.startswith(("head.", "body.transformer.ln_f.", "body.transformer.h.2.")), n


def test_class_weights_match_scikit_learn_balanced():
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.array([0] * 70 + [1] * 20 + [2] * 10)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=labels)
    torch.testing.assert_close(class_weights(labels), torch.tensor(expected, dtype=torch.float32))
    # each class then carries the same total weight
    w = class_weights(labels)
    totals = torch.bincount(torch.as_tensor(labels), weights=w[labels].double())
    torch.testing.assert_close(totals, torch.full((3,), 100 / 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="no examples"):
        class_weights([0, 0, 2])


def test_classification_metrics_match_scikit_learn():
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    m = classification_metrics(y_true, y_pred)
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", pos_label=1)
    assert math.isclose(m["accuracy"], accuracy_score(y_true, y_pred))
    assert math.isclose(m["precision"], p) and math.isclose(m["recall"], r) and math.isclose(m["f1"], f)
    assert (m["confusion"] == confusion_matrix(y_true, y_pred)).all()
    nothing = classification_metrics([0, 1], [0, 0])  # no positive prediction: precision and F1 are 0
    assert nothing["precision"] == 0.0 and nothing["f1"] == 0.0 and nothing["accuracy"] == 0.5


def test_length_grouped_batches_cover_everything_once_with_little_padding():
    lengths = torch.randint(1, 97, (1000,), generator=torch.Generator().manual_seed(0))
    batches = length_grouped_batches(lengths, 32, torch.Generator().manual_seed(1))
    assert sorted(torch.cat(batches).tolist()) == list(range(1000))
    assert all(len(b) <= 32 for b in batches)
    padded = sum(len(b) * int(lengths[b].max()) for b in batches)
    assert padded < 1.2 * int(lengths.sum())  # random batches of 32 would pad to about 1.9x


def test_predict_proba_keeps_the_order_of_the_data():
    clf = GPTClassifier(tiny_gpt(), 2, pad_id=0).eval()
    data = encode_classification(ByteTokenizer(), ["a" * n for n in (9, 2, 14, 5, 1)], [0, 1, 0, 1, 0], pad_id=0)
    with torch.no_grad():
        one_by_one = torch.cat([clf(data.ids[i:i + 1, :n], data.lengths[i:i + 1]).softmax(-1)
                                for i, n in enumerate(data.lengths.tolist())])
    torch.testing.assert_close(predict_proba(clf, data, batch_size=2), one_by_one)


def test_classifier_learns_a_separable_toy_task():
    tok = ByteTokenizer()
    g = torch.Generator().manual_seed(0)
    texts, labels = [], []
    for i in range(64):  # class 1 texts contain an 'x' somewhere, class 0 texts do not
        s = "".join("abc"[j] for j in torch.randint(0, 3, (8,), generator=g).tolist())
        if i % 2:
            k = int(torch.randint(0, 8, (1,), generator=g))
            s = s[:k] + "x" + s[k + 1:]
        texts.append(s)
        labels.append(i % 2)
    data = encode_classification(tok, texts, labels, pad_id=0)
    clf = GPTClassifier(tiny_gpt(), 2, pad_id=0)
    freeze(clf, "full")
    history = train_classifier(clf, data, epochs=15, lr=3e-3, batch_size=16, valid=data, progress=False)
    assert len(history.steps) == 15 * 4 and len(history.val_loss) == 15
    assert history.val_loss[-1] < 0.5 * history.val_loss[0]
    assert evaluate_classifier(clf, data)["accuracy"] >= 0.9



def test_fine_tuning_runs_on_the_trainers_schedule_and_keeps_frozen_weights():
    """Both fine-tuning loops are the Trainer's: warm-up then cosine decay, validation where promised."""
    texts = ["aaa", "bbbb", "ab", "ba", "abab", "b"]
    data = encode_classification(ByteTokenizer(), texts, [0, 1] * 3, pad_id=0)
    clf = GPTClassifier(tiny_gpt(), 2, pad_id=0)
    freeze(clf, "head")
    h = train_classifier(clf, data, epochs=3, lr=1e-2, batch_size=4, valid=data, progress=False)  # 2 steps an epoch
    assert h.lr == [TrainConfig(max_steps=6, lr=1e-2, warmup_steps=1).lr_at(s) for s in range(6)]
    assert h.val_steps == [2, 4, 6]

    tok = ByteTokenizer()
    examples = [build_sft_example(tok, "a b", " b", block_size=16)] * 6
    model = tiny_gpt()
    model.transformer.h.requires_grad_(False)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    h = train_sft(model, examples, steps=10, lr=1e-2, batch_size=4, valid=examples, eval_interval=4,
                  weight_decay=0.1, progress=False)
    assert h.lr == [TrainConfig(max_steps=10, lr=1e-2, warmup_steps=1).lr_at(s) for s in range(10)]
    assert h.val_steps == [4, 8, 10] and not model.training
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)


# ----------------------------------------------------------------------------------------- SFT masking


def test_sft_example_masks_exactly_the_prompt_tokens():
    tok = ByteTokenizer()
    prompt, completion = format_example("The cat sat on the mat.", "cat sits")
    assert (prompt, completion) == ("The cat sat on the mat.\nTL;DR:", " cat sits\n")
    p, c = tok.encode(prompt), tok.encode(completion)
    x, y = build_sft_example(tok, prompt, completion, block_size=64)
    assert x.tolist() == (p + c)[:-1]
    assert (y[: len(p) - 1] == IGNORE_INDEX).all()  # targets that are prompt tokens
    assert y[len(p) - 1:].tolist() == c  # the first completion token is predicted from the prompt's last
    _, y_all = build_sft_example(tok, prompt, completion, block_size=64, mask_prompt=False)
    assert y_all.tolist() == (p + c)[1:]


def test_sft_example_too_long_loses_the_start_of_the_prompt():
    tok = ByteTokenizer()
    x, y = build_sft_example(tok, "0123456789abcdef:", " ok\n", block_size=10)
    assert x.numel() == 10 and tok.decode(x.tolist() + [y[-1].item()]) == "abcdef: ok\n"  # the last 11 tokens
    assert tok.decode(y[y != IGNORE_INDEX].tolist()) == " ok\n"
    with pytest.raises(ValueError, match="completion"):
        build_sft_example(tok, "a", "x" * 20, block_size=10)


def test_sft_batches_pad_inputs_and_ignore_padded_targets():
    tok = ByteTokenizer()
    examples = [build_sft_example(tok, "q" * n, " a\n", 32) for n in (1, 5, 9)]
    batches = list(sft_batches(examples, batch_size=2, generator=torch.Generator().manual_seed(0), pad_id=7))
    assert sum(b[0].shape[0] for b in batches) == 3
    (x, y), = sft_batches(examples, 3, shuffle=False, pad_id=7)
    for i, (xi, yi) in enumerate(examples):
        n = xi.numel()
        assert torch.equal(x[i, :n], xi) and torch.equal(y[i, :n], yi)
        assert (x[i, n:] == 7).all() and (y[i, n:] == IGNORE_INDEX).all()


def test_a_tiny_sft_run_lowers_the_loss_on_completion_tokens():
    tok = ByteTokenizer()
    g = torch.Generator().manual_seed(0)
    words = ["red", "blue", "green", "gold", "grey", "pink"]
    pairs = []
    for _ in range(48):  # the completion repeats the prompt's last word: learnable copying
        w = [words[i] for i in torch.randint(0, len(words), (3,), generator=g).tolist()]
        pairs.append(format_example(" ".join(w), w[-1], sep=" ->"))
    examples = [build_sft_example(tok, p, c, block_size=32) for p, c in pairs]
    model = tiny_gpt(block_size=32)
    before = sft_loss(model, examples)
    history = train_sft(model, examples, steps=80, lr=3e-3, batch_size=16, valid=examples[:8], progress=False)
    after = sft_loss(model, examples)
    assert len(history.steps) == 80 and history.val_steps[-1] == 80
    assert after < 0.5 * before, (before, after)
    out = generate_text(model, tok, pairs[0][0], max_new_tokens=8, temperature=0.0, stop="\n")
    assert "\n" not in out
