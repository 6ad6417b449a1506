"""Fine-tuning a pretrained GPT: a classification head, and supervised fine-tuning with loss masking.

Notebook 14 puts a classifier on the last token or the mean of the tokens (`GPTClassifier`, `freeze`,
`train_classifier`) and measures it with a held-out protocol (`sms_spam_task`, `SPAM_RUNS`, `fine_tune_and_test`:
threshold chosen on the validation split, test scored once, several seeds), notebook 15
fine-tunes on prompt → completion pairs with the prompt's loss masked (`build_sft_example`, `train_sft`),
notebook 16 does the same for chats (`gpt_course.chat`). ROUGE, the summaries' score, is in `gpt_course.evaluate`.

Masking uses the convention of `GPT.forward`: a target of -100 (`IGNORE_INDEX`) is left out of the
cross-entropy, so the model is graded only on the tokens it should learn to write.
"""
from __future__ import annotations

import copy
import itertools
import math
import random
import re
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .model import IGNORE_INDEX, GPT
from .checkpoint import History
from .data import get_batch
from .train import TrainConfig, Trainer
from .utils import evaluating, seed_everything


# --------------------------------------------------------------------------------------------- classification


@dataclass(frozen=True)
class ClassificationData:
    """Encoded texts: ids (N, T) right-padded, lengths (N,) of the real tokens, labels (N,)."""

    ids: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.labels.numel()

    def subset(self, index) -> "ClassificationData":
        return ClassificationData(self.ids[index], self.lengths[index], self.labels[index])


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token lists into ids (N, L) and return their lengths (N,).

    A sequence longer than `max_len` keeps its first `max_len` tokens (the START): a message shows what it
    is early on, and the classifier then reads the last kept token. L is the longest kept length.
    """
    if max_len is not None and max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    kept = [list(s)[:max_len] if max_len is not None else list(s) for s in seqs]
    if not kept:
        raise ValueError("pad_batch got no sequences")
    if any(len(s) == 0 for s in kept):
        i = next(i for i, s in enumerate(kept) if not s)
        raise ValueError(f"sequence {i} is empty: a classifier reads the last token, so every text needs one")
    lengths = torch.tensor([len(s) for s in kept])
    ids = torch.full((len(kept), int(lengths.max())), pad_id, dtype=torch.long)
    for i, s in enumerate(kept):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, lengths


def encode_classification(tokenizer, texts: Sequence[str], labels: Sequence[int], pad_id: int,
                          max_len: int | None = None) -> ClassificationData:
    """Tokenize, truncate (keeping the start) and right-pad `texts`; pair them with integer `labels`."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    ids, lengths = pad_batch([tokenizer.encode(t) for t in texts], pad_id, max_len)
    return ClassificationData(ids, lengths, torch.as_tensor(labels, dtype=torch.long))


def last_token_lengths(idx: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Lengths (B,) of right-padded rows: one past the last token that is not `pad_id`."""
    real = idx != pad_id
    if not bool(real.any(dim=1).all()):
        raise ValueError(f"a row holds only pad_id={pad_id}: nothing to classify")
    positions = torch.arange(1, idx.shape[1] + 1, device=idx.device)
    return (real * positions).amax(dim=1)


class GPTClassifier(nn.Module):
    """A GPT body with a linear classification head on a summary of the hidden states of the real tokens.

    `pooling="last"` (GPT-1's choice) reads the last real (non-pad) token, the only one whose causal attention
    has seen the whole text; `pooling="mean"` averages the states of all real tokens, so every position's
    evidence reaches the head directly. The causal mask means no real token sees what comes after it, so
    right-padding cannot change the result either way. The body is shared, not copied: training changes `body` too.
    """

    POOLINGS = ("last", "mean")

    def __init__(self, body: GPT, n_classes: int, pad_id: int, pooling: str = "last"):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        if pooling not in self.POOLINGS:
            raise ValueError(f"pooling={pooling!r} is unknown: use 'last' (the last real token) or 'mean' "
                             "(the average over the real tokens)")
        self.body = body  # its lm_head is not used
        self.head = nn.Linear(body.config.n_embd, n_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        self.pad_id = pad_id
        self.pooling = pooling

    @property
    def config(self):
        """The body's configuration (its block size bounds the input length)."""
        return self.body.config

    def pool(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Hidden states (B, T, C) of right-padded rows -> one vector per row (B, C), by `self.pooling`."""
        lengths = lengths.to(h.device)
        if self.pooling == "last":
            return h[torch.arange(h.shape[0], device=h.device), lengths - 1]  # (B, C)
        real = (torch.arange(h.shape[1], device=h.device)[None, :] < lengths[:, None]).to(h.dtype)  # (B, T)
        return (h * real[..., None]).sum(1) / lengths[:, None].to(h.dtype)  # (B, C)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """idx (B, T) right-padded -> logits (B, n_classes). Without `lengths`, they are found from `pad_id`."""
        if lengths is None:
            lengths = last_token_lengths(idx, self.pad_id)
        return self.head(self.pool(self.body.hidden(idx), lengths))  # (B, C) -> (B, n_classes)


def freeze(model: nn.Module, mode: str) -> int:
    """Choose what fine-tuning may change; returns the number of trainable parameters.

    "head": only `model.head` (the body is a fixed feature extractor); "last:N": the last N blocks, the final
    LayerNorm and the head; "full": everything.
    """
    n_layer = len(model.body.transformer.h)
    if mode == "full":
        trainable = ("",)
    elif mode == "head":
        trainable = ("head.",)
    elif re.fullmatch(r"last:\d+", mode) and 1 <= int(mode[5:]) <= n_layer:
        first = n_layer - int(mode[5:])
        blocks = tuple(f"body.transformer.h.{i}." for i in range(first, n_layer))
        trainable = ("head.", "body.transformer.ln_f.") + blocks
    else:
        raise ValueError(f"mode={mode!r} is unknown: use 'head', 'full' or 'last:N' with 1 <= N <= {n_layer}")
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(trainable))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def class_weights(labels, n_classes: int | None = None) -> torch.Tensor:
    """Per-class loss weights n / (k · count_c): every class then carries the same total weight
    (scikit-learn's "balanced")."""
    labels = torch.as_tensor(labels).long().flatten()
    k = int(labels.max()) + 1 if n_classes is None else n_classes
    counts = torch.bincount(labels, minlength=k).double()
    if (counts == 0).any():
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"classes {missing} have no examples: a weight for them is undefined")
    return (labels.numel() / (k * counts)).float()


def classification_metrics(y_true, y_pred, n_classes: int = 2, positive: int = 1) -> dict:
    """Accuracy, precision / recall / F1 of the `positive` class, and the confusion matrix (rows: true class)."""
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    confusion = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(confusion, (y_true, y_pred), 1)
    tp = confusion[positive, positive]
    predicted, actual = confusion[:, positive].sum(), confusion[positive].sum()
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": float(np.trace(confusion) / max(1, confusion.sum())), "precision": float(precision),
            "recall": float(recall), "f1": float(f1), "confusion": confusion}


@torch.no_grad()
def pooled_features(model: GPTClassifier, data: ClassificationData, batch_size: int = 128) -> torch.Tensor:
    """What the head reads, (N, n_embd): the pooled hidden states of every text, in evaluation mode (batches of
    similar lengths, for speed)."""
    device = next(model.parameters()).device
    order = torch.argsort(data.lengths, stable=True)
    out = torch.empty(len(data), model.config.n_embd)
    with evaluating(model):
        for index in order.split(batch_size):
            T = int(data.lengths[index].max())  # drop columns that are padding in every row of the batch
            h = model.body.hidden(data.ids[index, :T].to(device))  # (B, T, C)
            out[index] = model.pool(h, data.lengths[index]).float().cpu()
    return out


@torch.no_grad()
def predict_proba(model: GPTClassifier, data: ClassificationData, batch_size: int = 128) -> torch.Tensor:
    """Class probabilities (N, n_classes), in evaluation mode."""
    features = pooled_features(model, data, batch_size)
    with evaluating(model):
        return model.head(features.to(model.head.weight.device)).softmax(-1).cpu()


def evaluate_classifier(model: GPTClassifier, data: ClassificationData, positive: int = 1) -> dict:
    """`classification_metrics` of the model's predictions on `data`."""
    probs = predict_proba(model, data)
    return classification_metrics(data.labels, probs.argmax(-1), probs.shape[1], positive)


def length_grouped_batches(lengths: torch.Tensor, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Random batches of indices whose texts have similar lengths, so little of a batch is padding: shuffle,
    sort each run of 16 batches by length, cut, and shuffle the batches (Hugging Face's `group_by_length`)."""
    batches = []
    for chunk in torch.randperm(len(lengths), generator=generator).split(16 * batch_size):
        batches += chunk[torch.argsort(lengths[chunk], stable=True)].split(batch_size)
    return [batches[i] for i in torch.randperm(len(batches), generator=generator)]


def _adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Fine-tuning's optimizer: AdamW with PyTorch's default betas over the trainable parameters, all decayed alike."""
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)


def train_classifier(model: GPTClassifier, data: ClassificationData, epochs: int = 3, lr: float = 3e-4,
                     batch_size: int = 32, weight: torch.Tensor | None = None, valid: ClassificationData | None = None,
                     weight_decay: float = 0.01, seed: int = 0, progress: bool = True,
                     desc: str = "fine-tuning") -> History:
    """Train the trainable parameters (see `freeze`) with the course's `Trainer` (AdamW, warm-up and cosine decay,
    clipping) on (weighted) cross-entropy. Returns the per-step history; with `valid`, its loss after every epoch.

    With the body frozen it is a fixed feature extractor: its pooled features are computed once, in evaluation
    mode, and only the head is trained on them (the same result as running the body every step, without dropout)."""
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("no parameter is trainable: call freeze(model, 'head' | 'last:N' | 'full') first")
    device = next(model.parameters()).device
    steps_per_epoch = math.ceil(len(data) / batch_size)
    config = TrainConfig(max_steps=epochs * steps_per_epoch, lr=lr, warmup_steps=max(1, steps_per_epoch // 2),
                         eval_interval=steps_per_epoch, progress=progress)
    weight = None if weight is None else weight.to(device)
    generator = torch.Generator().manual_seed(seed)
    batches = (index for _ in range(epochs) for index in length_grouped_batches(data.lengths, batch_size, generator))

    body_frozen = not any(p.requires_grad for p in model.body.parameters())
    if body_frozen:  # a fixed feature extractor: run it once
        features = pooled_features(model, data).to(device)
        valid_features = None if valid is None else pooled_features(model, valid).to(device)

    def loss_fn(step: int) -> torch.Tensor:
        index = next(batches)
        if body_frozen:
            return F.cross_entropy(model.head(features[index.to(device)]), data.labels[index].to(device), weight=weight)
        batch = data.subset(index)
        T = int(batch.lengths.max())  # drop columns that are padding in every row
        logits = model(batch.ids[:, :T].to(device), batch.lengths.to(device))  # (B, n_classes)
        return F.cross_entropy(logits, batch.labels.to(device), weight=weight)

    @torch.no_grad()
    def valid_loss() -> float:
        if body_frozen:
            return F.cross_entropy(model.head(valid_features), valid.labels.to(device)).item()
        probs = predict_proba(model, valid)
        return F.nll_loss(probs.clamp_min(1e-12).log(), valid.labels).item()

    trainer = Trainer(model, config=config, loss_fn=loss_fn, eval_fn=None if valid is None else valid_loss,
                      optimizer=_adamw(model, lr, weight_decay), desc=desc)
    return trainer.fit()


def choose_threshold(p_positive, labels, grid: int = 99) -> float:
    """The decision threshold on p(positive) with the best F1 on a validation set, from the grid 0.01 ... 0.99.

    A model trained on a mix of classes unlike the real one is calibrated to that mix; a threshold chosen on a
    validation split with the real mix corrects for it. Ties go to the threshold nearest 0.5."""
    p, y = np.asarray(p_positive, dtype=float), np.asarray(labels).astype(int)
    if p.shape != y.shape or p.ndim != 1:
        raise ValueError(f"p_positive {p.shape} and labels {y.shape} must be two vectors of the same length")
    if not (y == 1).any():
        raise ValueError("the validation labels hold no positive example: F1 and a threshold are undefined")
    thresholds = np.arange(1, grid + 1) / (grid + 1)
    f1 = np.array([classification_metrics(y, (p >= t).astype(int))["f1"] for t in thresholds])
    best = np.flatnonzero(f1 >= f1.max() - 1e-12)
    return float(thresholds[best[np.argmin(np.abs(thresholds[best] - 0.5))]])


def split_labelled(rows: Sequence[tuple[int, str]], seed: int = 0, test_share: float = 0.2,
                   valid_share: float = 0.1) -> dict[str, tuple[list[str], list[int]]]:
    """Stratified train / valid / test split of (label, text) rows: each class is shuffled with `seed`, and its
    first `test_share`, then the next `valid_share`, go to test and valid, so both keep the real class mix.
    Returns {"train" | "valid" | "test": (texts, labels)}, each ordered by class."""
    if not (0 < test_share and 0 < valid_share and test_share + valid_share < 1):
        raise ValueError(f"test_share={test_share} and valid_share={valid_share} must be > 0 and sum to less than 1")
    by_class: dict[int, list[str]] = {}
    for label, text in rows:
        by_class.setdefault(int(label), []).append(text)
    rng = random.Random(seed)
    out = {name: ([], []) for name in ("train", "valid", "test")}
    for label in sorted(by_class):
        texts = list(by_class[label])
        rng.shuffle(texts)
        n_test, n_valid = int(len(texts) * test_share), int(len(texts) * valid_share)
        parts = {"test": texts[:n_test], "valid": texts[n_test:n_test + n_valid], "train": texts[n_test + n_valid:]}
        for name, part in parts.items():
            out[name][0].extend(part)
            out[name][1].extend([label] * len(part))
    return out


def undersample(texts: Sequence[str], labels: Sequence[int], per_rarest: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """Keep every example of the rarest class and a random `per_rarest` times as many of each other class
    (or all of them, if there are fewer). Returns (texts, labels) in their original order."""
    if per_rarest < 1:
        raise ValueError(f"per_rarest must be at least 1 (1 gives balanced classes), got {per_rarest}")
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    counts = {c: list(labels).count(c) for c in set(labels)}
    cap = per_rarest * min(counts.values())
    rng = random.Random(seed)
    keep = set()
    for c in sorted(counts):
        rows = [i for i, label in enumerate(labels) if label == c]
        keep.update(rows if len(rows) <= cap else rng.sample(rows, cap))
    return [texts[i] for i in sorted(keep)], [labels[i] for i in sorted(keep)]


def sms_spam_task(tokenizer, pad_id: int = 0, max_len: int = 128, ham_per_spam: int = 3,
                  seed: int = 0) -> dict[str, tuple[list[str], list[int], ClassificationData]]:
    """Notebook 14's data: the SMS Spam Collection, each text once, split by `split_labelled` (test 20 %, valid
    10 %, both with the real mix), the training part undersampled to `ham_per_spam` ham per spam, and encoded.
    Returns {"train" | "valid" | "test": (texts, labels, ClassificationData)}; label 1 is spam."""
    from .data import load_sms_spam

    seen: set[str] = set()
    rows = [(int(label == "spam"), text) for label, text in load_sms_spam() if not (text in seen or seen.add(text))]
    parts = split_labelled(rows, seed=seed)
    parts["train"] = undersample(*parts["train"], per_rarest=ham_per_spam, seed=seed)
    return {name: (texts, labels, encode_classification(tokenizer, texts, labels, pad_id, max_len))
            for name, (texts, labels) in parts.items()}


@dataclass(frozen=True)
class ClassifierRecipe:
    """One way to fine-tune a `GPTClassifier`: where the body starts, what trains, and how long and how fast."""

    pretrained: bool = True  # start from the course checkpoint, or from a random initialisation
    mode: str = "full"  # what trains: see `freeze`
    pooling: str = "last"  # see `GPTClassifier`
    lr: float = 1e-3
    epochs: int = 2
    batch_size: int = 32
    weight_decay: float = 0.01


def fine_tune_classifier(model: GPT, recipe: ClassifierRecipe, data: ClassificationData, pad_id: int, seed: int = 0,
                         n_classes: int = 2, valid: ClassificationData | None = None, progress: bool = True,
                         desc: str = "fine-tuning") -> tuple[GPTClassifier, History]:
    """Build a classifier on a copy of `model` (or on a fresh GPT of its configuration), freeze it as the recipe
    says and train it with `seed` (head initialisation, dropout, batch order). `model` itself is left unchanged."""
    seed_everything(seed)
    body = copy.deepcopy(model) if recipe.pretrained else GPT(model.config)
    clf = GPTClassifier(body, n_classes, pad_id, pooling=recipe.pooling)
    freeze(clf, recipe.mode)
    history = train_classifier(clf, data, epochs=recipe.epochs, lr=recipe.lr, batch_size=recipe.batch_size,
                               valid=valid, weight_decay=recipe.weight_decay, seed=seed, progress=progress, desc=desc)
    return clf, history


# Notebook 14's runs on `sms_spam_task`: transfer learning measured four ways, each over SPAM_SEEDS. The settings
# were chosen on the validation split; "full fine-tune" is the course's spam classifier.
SPAM_SEEDS = (0, 1, 2)
SPAM_RUNS = {
    "from scratch": ClassifierRecipe(pretrained=False, mode="full", lr=1e-3),
    "frozen body": ClassifierRecipe(mode="head", pooling="mean", lr=1e-2, epochs=10),
    "last 2 blocks": ClassifierRecipe(mode="last:2", lr=1e-3),
    "full fine-tune": ClassifierRecipe(mode="full", lr=1e-3),
}


def fine_tune_and_test(model: GPT, recipe: ClassifierRecipe, train: ClassificationData, valid: ClassificationData,
                       test: ClassificationData, pad_id: int, seed: int = 0, track_valid: bool = False,
                       progress: bool = True, desc: str = "fine-tuning") -> dict:
    """The held-out protocol in one call: fine-tune on `train`, choose the decision threshold on `valid`
    (`choose_threshold`), then score `test` once at that threshold. Returns the test metrics with the
    threshold, p(positive) on test, the classifier and its history (with a valid loss per epoch if `track_valid`)."""
    clf, history = fine_tune_classifier(model, recipe, train, pad_id, seed=seed, valid=valid if track_valid else None,
                                        progress=progress, desc=desc)
    threshold = choose_threshold(predict_proba(clf, valid)[:, 1], valid.labels)
    p_test = predict_proba(clf, test)[:, 1]
    metrics = classification_metrics(test.labels, (p_test >= threshold).long())
    return {**metrics, "threshold": threshold, "p_test": p_test, "classifier": clf, "history": history}


def bag_of_words_baseline(train: tuple[Sequence[str], Sequence[int]], valid: tuple[Sequence[str], Sequence[int]],
                          test: tuple[Sequence[str], Sequence[int]]) -> dict:
    """The classic rival: word counts (scikit-learn's `CountVectorizer`) and a logistic regression, under the same
    protocol as the GPT runs (threshold chosen on `valid`, `test` scored once). Each argument is (texts, labels)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    bow = CountVectorizer()  # lowercase words -> counts
    lr = LogisticRegression(max_iter=2000).fit(bow.fit_transform(train[0]), train[1])
    threshold = choose_threshold(lr.predict_proba(bow.transform(valid[0]))[:, 1], valid[1])
    p_test = lr.predict_proba(bow.transform(test[0]))[:, 1]
    return {**classification_metrics(test[1], (p_test >= threshold).astype(int)), "threshold": threshold,
            "p_test": p_test, "vocabulary": len(bow.vocabulary_), "trainable": lr.coef_.size + 1}


# --------------------------------------------------------------------------------------------- supervised fine-tuning


def format_example(prompt: str, completion: str, sep: str = "\nTL;DR:", end: str = "\n") -> tuple[str, str]:
    """(prompt + sep, " " + completion + end): the separator says "now the answer", `end` says "stop here"."""
    return prompt.rstrip() + sep, " " + completion.strip() + end


def _pack(segments: Sequence[tuple[list[int], bool]], block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(token ids, trained?) segments -> (x, y) of at most block_size tokens, keeping the END of the sequence.

    y[j] is the token after x[j], or IGNORE_INDEX where that token is not trained."""
    ids = [i for seg, _ in segments for i in seg]
    trained = [flag for seg, flag in segments for _ in seg]
    ids, trained = ids[-(block_size + 1):], trained[-(block_size + 1):]
    if len(ids) < 2:
        raise ValueError("an example needs at least two tokens: one to read and one to predict")
    x = torch.tensor(ids[:-1], dtype=torch.long)
    y = torch.tensor([t if keep else IGNORE_INDEX for t, keep in zip(ids[1:], trained[1:])], dtype=torch.long)
    return x, y


def build_sft_example(tokenizer, prompt: str, completion: str, block_size: int,
                      mask_prompt: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs x and targets y for one prompt → completion pair; prompt tokens get target -100 when masked.

    Prompt and completion are encoded separately, so the mask falls on a token boundary (generation starts
    from the encoded prompt in the same way). Too long a pair loses tokens from the start of the prompt.
    """
    p, c = tokenizer.encode(prompt), tokenizer.encode(completion)
    if not c:
        raise ValueError("the completion is empty: there is nothing to learn")
    if len(c) > block_size:
        raise ValueError(f"the completion has {len(c)} tokens but block_size is {block_size}: shorten it")
    return _pack([(p, not mask_prompt), (c, True)], block_size)


def sft_batches(examples: Sequence[tuple[torch.Tensor, torch.Tensor]], batch_size: int,
                generator: torch.Generator | None = None, pad_id: int = 0,
                shuffle: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One pass over `examples` in batches (x, y) of shape (B, T): x right-padded with `pad_id`, y with -100,
    so padding is never trained (and, the model being causal, never seen by a real token)."""
    order = torch.randperm(len(examples), generator=generator) if shuffle else torch.arange(len(examples))
    for index in order.split(batch_size):
        xs, ys = zip(*(examples[i] for i in index.tolist()))
        T = max(x.numel() for x in xs)
        x = torch.full((len(xs), T), pad_id, dtype=torch.long)
        y = torch.full((len(xs), T), IGNORE_INDEX, dtype=torch.long)
        for i, (xi, yi) in enumerate(zip(xs, ys)):
            x[i, : xi.numel()], y[i, : yi.numel()] = xi, yi
        yield x, y


@torch.no_grad()
def sft_loss(model: GPT, examples: Sequence[tuple[torch.Tensor, torch.Tensor]], batch_size: int = 64) -> float:
    """Mean cross-entropy per trained target token (targets of -100 do not count)."""
    total, count = 0.0, 0
    with evaluating(model):
        for x, y in sft_batches(examples, batch_size, shuffle=False):
            logits, _ = model(x.to(model.device))
            y = y.to(model.device)
            total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE_INDEX,
                                     reduction="sum").item()
            count += int((y != IGNORE_INDEX).sum())
    if count == 0:
        raise ValueError("no example has a trained target token")
    return total / count


def set_dropout(model: nn.Module, p: float) -> dict[nn.Module, float]:
    """Set every dropout rate of `model` (its `nn.Dropout` layers and the attention weights' rate) to `p`;
    returns the old rates, for `restore_dropout`."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    old = {}
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            old[module], module.p = module.p, p
        elif isinstance(getattr(module, "dropout", None), float):  # attention keeps its rate as a float
            old[module], module.dropout = module.dropout, p
    return old


def restore_dropout(old: dict[nn.Module, float]) -> None:
    """Put back the rates `set_dropout` returned."""
    for module, p in old.items():
        if isinstance(module, nn.Dropout):
            module.p = p
        else:
            module.dropout = p


def train_sft(model: GPT, examples: Sequence[tuple[torch.Tensor, torch.Tensor]], steps: int, lr: float = 3e-4,
              batch_size: int = 16, valid: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None,
              eval_interval: int | None = None, weight_decay: float = 0.0, seed: int = 0,
              progress: bool = True, desc: str = "fine-tuning", dropout: float | None = None,
              rehearsal: torch.Tensor | None = None, rehearsal_rows: int = 4,
              rehearsal_weight: float = 0.5) -> History:
    """Fine-tune a GPT on (x, y) examples for `steps` batches with the course's `Trainer` (AdamW, 10% warm-up,
    cosine decay, clipping), reshuffling the examples at every pass.

    The loss is the model's own cross-entropy, so masked targets (-100) do not count. With `valid`, the
    `sft_loss` on it is recorded every `eval_interval` steps (default: 5 times) and at the end. `dropout`
    trains with that rate instead of the model's own (which is put back afterwards). With `rehearsal`, a
    token stream such as the pretraining text, every step also reads `rehearsal_rows` random windows of it
    and adds their next-token loss times `rehearsal_weight` (*rehearsal*: the model keeps practising the text
    it was pretrained on, so the fine-tune does not wipe out what it knew of it, copying from its window
    included). The model is left in evaluation mode."""
    if not examples:
        raise ValueError("no training examples")
    if rehearsal is not None and not (rehearsal_rows >= 1 and rehearsal_weight > 0):
        raise ValueError(f"rehearsal needs rehearsal_rows >= 1 and rehearsal_weight > 0, got {rehearsal_rows} "
                         f"and {rehearsal_weight}")
    old_dropout = None if dropout is None else set_dropout(model, dropout)
    config = TrainConfig(max_steps=steps, lr=lr, warmup_steps=max(1, steps // 10), batch_size=batch_size,
                         eval_interval=eval_interval or max(1, steps // 5), progress=progress)
    generator = torch.Generator().manual_seed(seed)
    batches = (xy for _ in itertools.count() for xy in sft_batches(examples, batch_size, generator))
    windows = torch.Generator().manual_seed(seed + 1)  # the rehearsal's windows

    def loss_fn(step: int) -> torch.Tensor:
        x, y = next(batches)  # (B, T) each
        loss = model(x.to(model.device), y.to(model.device))[1]
        if rehearsal is not None:
            rx, ry = get_batch(rehearsal, model.config.block_size, rehearsal_rows, windows, model.device)
            loss = loss + rehearsal_weight * model(rx, ry)[1]
        return loss

    try:
        history = Trainer(model, config=config, loss_fn=loss_fn,
                          eval_fn=None if valid is None else lambda: sft_loss(model, valid),
                          optimizer=_adamw(model, lr, weight_decay), desc=desc).fit()
    finally:
        if old_dropout is not None:
            restore_dropout(old_dropout)
    model.eval()
    return history
