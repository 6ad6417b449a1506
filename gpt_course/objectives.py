"""Pretraining objectives beside next-token prediction (notebook 11).

* Denoising, BERT's masked-token prediction: `mask_tokens` corrupts 15% of the tokens by the 80/10/10 rule,
  `mlm_loss` scores the model only at the corrupted positions.
* Contrastive learning: `info_nce` pulls each embedding towards its partner and away from the other
  partners in the batch (in-batch negatives).
* `Encoder`: a `gc.GPT` built with ``causal=False``, so every token sees every other token (an encoder, as in
  BERT); ``causal=True`` is exactly `gc.GPT`.
* `fit`: the course's `Trainer` minimising any loss (AdamW, warm-up + cosine, clipping, progress bar).
* `OBJECTIVE_RECIPE` and `train_language_model`: the small transformer of notebook 11 trained as a next-token LM or
  as a masked LM; notebook 20 calls the same function with the same recipe and gets the same models.
"""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .model import IGNORE_INDEX, GPT, GPTConfig
from .data import get_batch
from .train import Recipe, TrainConfig, Trainer
from .utils import seed_everything


def mask_tokens(ids: torch.Tensor, mask_id: int, vocab_size: int, mask_prob: float = 0.15,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption of a batch of token ids: returns (inputs, labels).

    Each position is chosen with probability `mask_prob`. Of the chosen ones, 80% become `mask_id`, 10% a
    random token drawn from 0..vocab_size-1, and 10% stay as they are. `labels` holds the original id at
    the chosen positions and IGNORE_INDEX everywhere else, so the loss is computed on the chosen ones only.
    """
    if not 0.0 < mask_prob < 1.0:
        raise ValueError(f"mask_prob={mask_prob} must be between 0 and 1 (BERT uses 0.15)")
    if 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id={mask_id} is one of the {vocab_size} ordinary tokens: give the [MASK] token "
                         f"an id of its own, e.g. mask_id=vocab_size={vocab_size} (and a model with one more row)")
    chosen = torch.rand(ids.shape, generator=generator).to(ids.device) < mask_prob
    action = torch.rand(ids.shape, generator=generator).to(ids.device)  # 80% [MASK], 10% random, 10% kept
    random_ids = torch.randint(vocab_size, ids.shape, generator=generator).to(ids.device)
    inputs = torch.where(chosen & (action < 0.8), torch.full_like(ids, mask_id), ids)
    inputs = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, inputs)
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    return inputs, labels


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the positions whose label is not IGNORE_INDEX. logits (B, T, V), labels (B, T)."""
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} must agree on (B, T)")
    if not (labels != IGNORE_INDEX).any():
        raise ValueError("no position is labelled: mask_tokens chose nothing (a tiny batch?); draw again")
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE_INDEX)


def info_nce(queries: torch.Tensor, keys: torch.Tensor, temperature: float = 0.05,
             symmetric: bool = True) -> torch.Tensor:
    """InfoNCE with in-batch negatives: row i of `queries` should match row i of `keys` and none of the others.

    Both (N, D) are L2-normalised, so the scores are cosine similarities divided by `temperature`; the loss is
    the cross-entropy of picking the partner among the N keys (and, if `symmetric`, the query among the N
    queries, as in CLIP). With all embeddings alike it is ln N; it falls as partners separate from the rest.
    """
    if queries.shape != keys.shape or queries.dim() != 2:
        raise ValueError(f"queries and keys must both be (N, D), got {tuple(queries.shape)} and {tuple(keys.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature={temperature} must be > 0")
    scores = F.normalize(queries, dim=-1) @ F.normalize(keys, dim=-1).T / temperature  # (N, N)
    target = torch.arange(scores.shape[0], device=scores.device)
    loss = F.cross_entropy(scores, target)
    return (loss + F.cross_entropy(scores.T, target)) / 2 if symmetric else loss


class Encoder(GPT):
    """A `GPT` whose attention sees both ways (BERT's bidirectional encoder) unless causal=True, with `embed`."""

    def __init__(self, config: GPTConfig, causal: bool = False):
        super().__init__(replace(config, causal=causal))

    @property
    def causal(self) -> bool:
        return self.config.causal

    @classmethod
    def from_gpt(cls, gpt: GPT) -> "Encoder":
        """A causal Encoder holding `gpt`'s weights (to read its sentence embeddings)."""
        enc = cls(gpt.config, causal=True).to(gpt.device)
        enc.load_state_dict(gpt.state_dict(), strict=True)
        return enc.eval()

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """One vector per sequence: the mean of its final hidden states, (B, T) -> (B, C)."""
        return self.hidden(idx).mean(dim=1)


@torch.no_grad()
def next_token_logits(model: nn.Module, context: torch.Tensor, mask_id: int | None = None) -> torch.Tensor:
    """Logits (N, V) for the token that follows each row of `context` (N, L).

    A causal model reads its output at the last position. A masked LM has no such output: the only way it
    can predict a next token is to be given the context followed by one [MASK] (`mask_id`).
    """
    if mask_id is not None:
        context = torch.cat([context, torch.full_like(context[:, :1], mask_id)], dim=1)
    return model(context)[0][:, -1]


class LeftToRight(nn.Module):
    """Makes a masked LM usable by `gc.generate`: each step appends [MASK] to the last block_size-1 tokens
    and returns the masked LM's prediction there as the next-token logits ([MASK] itself excluded)."""

    def __init__(self, mlm: nn.Module, mask_id: int):
        super().__init__()
        self.mlm, self.mask_id, self.config = mlm, mask_id, mlm.config

    def forward(self, idx: torch.Tensor, cache=None) -> tuple[torch.Tensor, None]:
        logits = next_token_logits(self.mlm, idx[:, -(self.config.block_size - 1):], self.mask_id)
        logits[:, self.mask_id] = float("-inf")  # [MASK] is not text
        return logits[:, None, :], None  # (B, 1, V): gc.generate reads the last position


def fit(model: nn.Module, loss_fn: Callable[[int], torch.Tensor], config: TrainConfig,
        desc: str = "training", callback: Callable[[int], None] | None = None) -> dict:
    """Minimise `loss_fn(step)` (it draws its own batch and returns a scalar loss) with the `Trainer` of notebook 10:
    AdamW, the warm-up + cosine schedule of `config.lr_at`, gradient clipping. `callback(steps_done)` runs after
    every step (e.g. to probe the model now and then; it is timed too). The model is left in evaluation mode.
    Returns {"loss": the loss of every step, "seconds": the time it took}."""
    hooks = [] if callback is None else [SimpleNamespace(on_step=lambda trainer: callback(trainer.step))]
    history = Trainer(model, config=config, callbacks=hooks, loss_fn=loss_fn, desc=desc).fit()
    model.eval()
    return {"loss": history.train_loss, "seconds": history.elapsed}


MASK_PROB = 0.4  # share of tokens the masked LM corrupts (see train_language_model)

# The small transformer of notebooks 11 and 20 and how it is trained (the same recipe gives the same weights).
# Its vocabulary is the course tokenizer's 2048 tokens plus [MASK]; `train_language_model` sets it from the data.
OBJECTIVE_RECIPE = Recipe(
    model=GPTConfig(vocab_size=2048 + 1, block_size=32, n_layer=2, n_head=4, n_embd=128, pos_encoding="rope"),
    train=TrainConfig(max_steps=800, batch_size=32, lr=3e-3, warmup_steps=80),
)


def train_language_model(objective: str, train_ids: torch.Tensor, vocab_size: int,
                         recipe: Recipe = OBJECTIVE_RECIPE, max_steps: int | None = None,
                         callback: Callable[[int, nn.Module], None] | None = None, progress: bool = True,
                         device: torch.device | str | None = None,
                         mask_prob: float = MASK_PROB) -> tuple[nn.Module, dict]:
    """Train the recipe's transformer on the token stream `train_ids` with one objective; returns (model, log).

    objective="next-token": a `gc.GPT` predicts token t+1 at every position (GPT's objective).
    objective="masked": an `Encoder(causal=False)` recovers the tokens `mask_tokens` corrupted, [MASK] being id
    `vocab_size` (BERT's objective). `mask_prob` is the share it corrupts: BERT used 0.15; at this small budget
    0.4 gives the masked LM more targets per step (Wettig et al., 2023, found 0.4 as good or better; notebook 11
    measures both). Both models have `vocab_size` + 1 rows and draw the same windows in the same order; the
    corruption has a random generator of its own. `max_steps` shortens the run (warm-up: a tenth of the steps).
    `callback(steps_done, model)` runs after every step (to probe the model being trained). `log` is `fit`'s:
    {"loss": per step, "seconds": ...}.
    """
    if objective not in ("next-token", "masked"):
        raise ValueError(f"objective={objective!r}: choose 'next-token' (GPT) or 'masked' (BERT)")
    config = replace(recipe.model, vocab_size=vocab_size + 1)
    c = recipe.train
    if max_steps is not None:
        c = replace(c, max_steps=max_steps, warmup_steps=max(1, max_steps // 10))
    seed_everything(c.seed)
    model = (GPT(config) if objective == "next-token" else Encoder(config, causal=False)).to(device or "cpu")
    windows = torch.Generator().manual_seed(c.seed + 1)  # which windows of text, in which order
    corruption = torch.Generator().manual_seed(c.seed + 2)  # which tokens the masked LM corrupts

    def loss_fn(step: int) -> torch.Tensor:
        x, y = get_batch(train_ids, config.block_size, c.batch_size, windows, model.device)
        if objective == "next-token":
            return model(x, y)[1]
        inputs, labels = mask_tokens(x, vocab_size, vocab_size, mask_prob, corruption)
        return mlm_loss(model(inputs)[0], labels)

    log = fit(model, loss_fn, replace(c, progress=progress), desc=objective,
              callback=None if callback is None else lambda step: callback(step, model))
    return model, log
