"""Fine-tuning a pretrained GPT: a classification head, and supervised fine-tuning with loss masking.

Notebook 14 puts a classifier on the last token (`GPTClassifier`, `freeze`, `train_classifier`), notebook 15
fine-tunes on prompt → completion pairs with the prompt's loss masked (`build_sft_example`, `train_sft`),
notebook 16 does the same for chats (`gpt_course.chat`). ROUGE, the summaries' score, is in `gpt_course.evaluate`.

Masking uses the convention of `GPT.forward`: a target of -100 (`IGNORE_INDEX`) is left out of the
cross-entropy, so the model is graded only on the tokens it should learn to write.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .model import IGNORE_INDEX, GPT
from .checkpoint import History
from .train import TrainConfig, Trainer
from .utils import evaluating


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
    """A GPT body with a linear classification head on the hidden state of the last real (non-pad) token.

    The causal mask means that token has seen the whole text and nothing after it, so right-padding cannot
    change the result. The body is shared, not copied: training changes `body` too.
    """

    def __init__(self, body: GPT, n_classes: int, pad_id: int):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.body = body  # its lm_head is not used
        self.head = nn.Linear(body.config.n_embd, n_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        self.pad_id = pad_id

    @property
    def config(self):
        """The body's configuration (its block size bounds the input length)."""
        return self.body.config

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """idx (B, T) right-padded -> logits (B, n_classes). Without `lengths`, they are found from `pad_id`."""
        if lengths is None:
            lengths = last_token_lengths(idx, self.pad_id)
        h = self.body.hidden(idx)  # (B, T, C)
        last = h[torch.arange(idx.shape[0], device=idx.device), lengths.to(idx.device) - 1]  # (B, C)
        return self.head(last)


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
def predict_proba(model: GPTClassifier, data: ClassificationData, batch_size: int = 128) -> torch.Tensor:
    """Class probabilities (N, n_classes), in evaluation mode (batches of similar lengths, for speed)."""
    device = next(model.parameters()).device
    order = torch.argsort(data.lengths, stable=True)
    out = torch.empty(len(data), model.head.out_features)
    with evaluating(model):
        for index in order.split(batch_size):
            T = int(data.lengths[index].max())  # drop columns that are padding in every row of the batch
            out[index] = model(data.ids[index, :T].to(device), data.lengths[index].to(device)).softmax(-1).cpu()
    return out


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
    clipping) on (weighted) cross-entropy. Returns the per-step history; with `valid`, its loss after every epoch."""
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("no parameter is trainable: call freeze(model, 'head' | 'last:N' | 'full') first")
    device = next(model.parameters()).device
    steps_per_epoch = math.ceil(len(data) / batch_size)
    config = TrainConfig(max_steps=epochs * steps_per_epoch, lr=lr, warmup_steps=max(1, steps_per_epoch // 2),
                         eval_interval=steps_per_epoch, progress=progress)
    weight = None if weight is None else weight.to(device)
    generator = torch.Generator().manual_seed(seed)
    batches = (index for _ in range(epochs) for index in length_grouped_batches(data.lengths, batch_size, generator))

    def loss_fn(step: int) -> torch.Tensor:
        batch = data.subset(next(batches))
        T = int(batch.lengths.max())  # drop columns that are padding in every row
        logits = model(batch.ids[:, :T].to(device), batch.lengths.to(device))  # (B, n_classes)
        return F.cross_entropy(logits, batch.labels.to(device), weight=weight)

    def valid_loss() -> float:
        probs = predict_proba(model, valid)
        return F.nll_loss(probs.clamp_min(1e-12).log(), valid.labels).item()

    trainer = Trainer(model, config=config, loss_fn=loss_fn, eval_fn=None if valid is None else valid_loss,
                      optimizer=_adamw(model, lr, weight_decay), desc=desc)
    return trainer.fit()


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


def train_sft(model: GPT, examples: Sequence[tuple[torch.Tensor, torch.Tensor]], steps: int, lr: float = 3e-4,
              batch_size: int = 16, valid: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None,
              eval_interval: int | None = None, weight_decay: float = 0.0, seed: int = 0,
              progress: bool = True, desc: str = "fine-tuning") -> History:
    """Fine-tune a GPT on (x, y) examples for `steps` batches with the course's `Trainer` (AdamW, 10% warm-up,
    cosine decay, clipping), reshuffling the examples at every pass.

    The loss is the model's own cross-entropy, so masked targets (-100) do not count. With `valid`, the
    `sft_loss` on it is recorded every `eval_interval` steps (default: 5 times) and at the end. The model is
    left in evaluation mode."""
    if not examples:
        raise ValueError("no training examples")
    config = TrainConfig(max_steps=steps, lr=lr, warmup_steps=max(1, steps // 10), batch_size=batch_size,
                         eval_interval=eval_interval or max(1, steps // 5), progress=progress)
    generator = torch.Generator().manual_seed(seed)
    batches = (xy for _ in itertools.count() for xy in sft_batches(examples, batch_size, generator))

    def loss_fn(step: int) -> torch.Tensor:
        x, y = next(batches)  # (B, T) each
        return model(x.to(model.device), y.to(model.device))[1]

    history = Trainer(model, config=config, loss_fn=loss_fn,
                      eval_fn=None if valid is None else lambda: sft_loss(model, valid),
                      optimizer=_adamw(model, lr, weight_decay), desc=desc).fit()
    model.eval()
    return history
