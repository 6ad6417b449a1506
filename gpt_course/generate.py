"""Autoregressive generation: temperature, top-k, top-p (nucleus), repetition penalty, and a key/value cache."""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from .utils import evaluating, torch_threads

LogitsProcessor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def apply_repetition_penalty(logits: torch.Tensor, idx: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL's rule (Keskar et al. 2019): logits of tokens already in `idx` are divided by `penalty` if
    positive and multiplied by it if negative. logits (B, V), idx (B, T)."""
    if penalty <= 0:
        raise ValueError(f"repetition_penalty must be > 0 (1.0 = off), got {penalty}")
    if penalty == 1.0:
        return logits
    seen = torch.gather(logits, 1, idx)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(1, idx, seen)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row, set the rest to -inf."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k must be an int >= 1 (None = off), got {k!r}")
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter (Holtzman et al. 2020): keep the smallest set of top tokens whose probability sum >= p."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1] (1.0 = off), got {p}")
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    remove = cumulative - torch.softmax(sorted_logits, dim=-1) >= p  # mass before this token already >= p
    remove[..., 0] = False  # always keep the most likely token
    sorted_logits = sorted_logits.masked_fill(remove, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


def _check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be an int >= 1 (None = off), got {top_k!r}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1] (None = off), got {top_p}")


def process_logits(
    logits: torch.Tensor,
    idx: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    logits_processor: LogitsProcessor | None = None,
) -> torch.Tensor:
    """Next-token logits (B, V) after penalty, custom processor, temperature, top-k and top-p, in that order.

    temperature 0 keeps only the argmax (greedy)."""
    _check_sampling(temperature, top_k, top_p)
    logits = apply_repetition_penalty(logits, idx, repetition_penalty)
    if logits_processor is not None:
        logits = logits_processor(idx, logits)
    if temperature == 0:
        best = logits.argmax(dim=-1, keepdim=True)
        return torch.full_like(logits, float("-inf")).scatter(-1, best, 0.0)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits


@torch.no_grad()
def generate(
    model,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    logits_processor: LogitsProcessor | None = None,
) -> torch.Tensor:
    """Extend idx (B, T) by max_new_tokens sampled tokens; returns (B, T + max_new_tokens).

    temperature=0 is greedy decoding. Context rule: the model sees at most its last `block_size` tokens;
    a longer prompt is cropped to them. With `use_cache`, keys and values of past tokens are kept and only
    the new token is run through the model; once the window is full it slides, and each step is recomputed
    over the last block_size tokens (absolute positions shift, so the cache cannot be reused) — the output is
    the same token for token either way.
    """
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2:
        raise ValueError("idx must be a (batch, time) LongTensor; for one prompt use ids.unsqueeze(0)")
    if idx.shape[1] == 0:
        raise ValueError("the prompt is empty: give at least one token (e.g. a newline) to start from")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    _check_sampling(temperature, top_k, top_p)
    block = model.config.block_size
    # one token at a time is many small operations: on a CPU one thread runs them as fast as several on an idle
    # machine, and many times faster when another process wants a core (benchmarks/threads_under_load.py)
    on_cpu = idx.device.type == "cpu"
    with evaluating(model), torch_threads(1 if on_cpu else torch.get_num_threads()):
        cache, fed = None, 0  # fed: how many tokens of idx the cache holds
        for _ in range(max_new_tokens):
            if use_cache and cache is not None and idx.shape[1] <= block:
                logits, _ = model(idx[:, fed:], cache=cache)
            else:
                context = idx[:, -block:]
                cache = model.new_cache() if use_cache and idx.shape[1] < block else None
                logits, _ = model(context, cache=cache)
            fed = idx.shape[1]
            logits = process_logits(
                logits[:, -1, :], idx, temperature, top_k, top_p, repetition_penalty, logits_processor
            )
            if temperature == 0:
                next_id = logits.argmax(dim=-1, keepdim=True)
            else:
                probs = torch.softmax(logits, dim=-1)
                next_id = torch.multinomial(probs, num_samples=1, generator=generator)
            idx = torch.cat((idx, next_id), dim=1)
    return idx


def generate_text(
    model,
    tokenizer,
    prompt: str | Sequence[int],
    max_new_tokens: int,
    stop: str | None = None,
    num_samples: int | None = None,
    fit_window: bool = False,
    **sampling,
) -> str | list[str]:
    """The text `model` writes after `prompt` (a string or its token ids), the prompt not included.

    `sampling` goes to `generate` (temperature, top_k, top_p, repetition_penalty, generator, ...). `stop` cuts
    the text before its first occurrence. With `num_samples=n`, n continuations are drawn side by side from one
    generator and a list of n texts comes back. `fit_window` keeps only the last block_size - max_new_tokens
    prompt tokens, so that the whole answer is written with the prompt in view.
    """
    ids = tokenizer.encode(prompt) if isinstance(prompt, str) else [int(i) for i in prompt]
    if fit_window:
        ids = ids[-max(1, model.config.block_size - max_new_tokens):]
    device = next(model.parameters()).device
    idx = torch.tensor([ids] * (num_samples or 1), dtype=torch.long, device=device)  # (n, T)
    out = generate(model, idx, max_new_tokens, **sampling)                             # (n, T + max_new_tokens)
    texts = [tokenizer.decode(row[len(ids):].tolist()) for row in out]
    if stop is not None:
        texts = [t.split(stop, 1)[0] for t in texts]
    return texts if num_samples is not None else texts[0]
