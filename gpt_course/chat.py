"""Chat: the template a conversation is written in, its loss mask, the history that fits the window, the
model's reply, and notebook 16's fine-tuning recipe on the shop's dialogues.

A chat is plain text with role markers, so the course's byte-level BPE needs no special tokens; fine-tuning
trains only the assistant's words (`mask_user_turns`, `reply_example`), with `finetune.train_sft`. A prompt
keeps the latest whole messages that leave room for the reply in the window (`fit_history`): old turns are
dropped whole, never cut in the middle, and training examples are built with the same rule as prompts.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import asdict, dataclass
from typing import Sequence

import torch

from .evaluate import wilson_interval
from .finetune import _pack, train_sft
from .model import GPT
from .utils import evaluating, pick, torch_threads

USER, ASSISTANT, END = "<|user|>", "<|assistant|>", "<|end|>"
ROLE_MARKERS = {"user": USER, "assistant": ASSISTANT}


def _marker(message: dict) -> str:
    role = message.get("role") if isinstance(message, dict) else None
    if role not in ROLE_MARKERS:
        raise ValueError(f"unknown role {role!r}: a message is {{'role': 'user' | 'assistant', 'content': ...}}")
    return ROLE_MARKERS[role]


def chat_template(messages: Sequence[dict], add_generation_prompt: bool = False) -> str:
    """The text a chat is written as: ``<|user|>Hi<|end|>\\n<|assistant|>Hello!<|end|>\\n``.

    With `add_generation_prompt` it ends in ``<|assistant|>``, the cue for the model's reply. The markers are
    plain text: the course's byte-level BPE has no special tokens and splits each into a few ordinary ones."""
    text = "".join(f"{_marker(m)}{m['content']}{END}\n" for m in messages)
    return text + (ASSISTANT if add_generation_prompt else "")


def _chat_segments(tokenizer, messages: Sequence[dict], add_generation_prompt: bool) -> list[tuple[list[int], bool]]:
    """Every turn as four pieces, marker | content | <|end|> | newline, each encoded on its own (so the mask
    falls on token boundaries); trained: an assistant's content and its <|end|>."""
    segments = []
    for m in messages:
        trained = m.get("role") == "assistant"
        segments += [(tokenizer.encode(_marker(m)), False), (tokenizer.encode(m["content"]), trained),
                     (tokenizer.encode(END), trained), (tokenizer.encode("\n"), False)]
    if add_generation_prompt:
        segments.append((tokenizer.encode(ASSISTANT), False))
    return segments


def encode_chat(tokenizer, messages: Sequence[dict], add_generation_prompt: bool = False) -> list[int]:
    """Token ids of `chat_template(messages, add_generation_prompt)`, encoded piece by piece."""
    return [i for seg, _ in _chat_segments(tokenizer, messages, add_generation_prompt) for i in seg]


def mask_user_turns(tokenizer, messages: Sequence[dict], block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) for a chat: every target is -100 except the assistant's words and their <|end|>.

    A chat longer than the block keeps its end (the latest turns); an assistant turn that lost its start
    to the cut is masked as well, since its cue is gone."""
    segments = _chat_segments(tokenizer, messages, False)
    cut = max(0, sum(len(s) for s, _ in segments) - (block_size + 1))  # tokens that fall off the front
    out, start = [], 0
    for k in range(0, len(segments), 4):  # one message: marker, content, end, newline
        turn = segments[k:k + 4]
        out += [(seg, trained and start >= cut) for seg, trained in turn]
        start += sum(len(seg) for seg, _ in turn)
    return _pack(out, block_size)


def fit_history(tokenizer, messages: Sequence[dict], max_tokens: int, max_messages: int | None = None) -> list[dict]:
    """The latest whole messages (at most `max_messages`) whose prompt, cue included, has at most `max_tokens`
    tokens, starting with a user turn. Older messages are dropped whole: a turn is never cut in the middle."""
    messages = list(messages)
    if not messages or messages[-1].get("role") != "user":
        raise ValueError("a prompt ends with the user's message: the model answers the last user turn")
    first = max(0, len(messages) - (max_messages or len(messages)))
    for start in range(first, len(messages)):
        kept = messages[start:]
        if kept[0]["role"] == "user" and len(encode_chat(tokenizer, kept, add_generation_prompt=True)) <= max_tokens:
            return kept
    n = len(encode_chat(tokenizer, messages[-1:], add_generation_prompt=True))
    raise ValueError(f"the last user message alone takes {n} tokens with its markers, but the window leaves "
                     f"{max_tokens} for the prompt: shorten the message (or ask for a shorter reply)")


def reply_example(tokenizer, history: Sequence[dict], reply: str, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) for one assistant reply after `history`: only the reply's words and its <|end|> are trained.

    The history is read, not learned, earlier assistant turns included (they may have lost the context that
    explains them). The history must already fit (see `fit_history`)."""
    segments = [(seg, False) for seg, _ in _chat_segments(tokenizer, history, add_generation_prompt=True)]
    segments += [(tokenizer.encode(reply), True), (tokenizer.encode(END), True)]
    if sum(len(seg) for seg, _ in segments) > block_size + 1:
        raise ValueError(f"history and reply take more than block_size={block_size} tokens: fit the history first")
    return _pack(segments, block_size)


@torch.no_grad()
def _greedy_until(model: GPT, tokenizer, ids: list[int], max_new_tokens: int, stop: str) -> str:
    """Greedy decoding with the KV cache, stopped as soon as `stop` appears; the text before it."""
    if len(ids) + max_new_tokens > model.config.block_size:
        raise ValueError(f"{len(ids)} prompt tokens + {max_new_tokens} new ones exceed block_size="
                         f"{model.config.block_size}: fit the history first (fit_history)")
    out: list[int] = []
    with evaluating(model), torch_threads(1 if model.device.type == "cpu" else torch.get_num_threads()):
        cache, x = model.new_cache(), torch.tensor([ids], device=model.device)  # (1, T)
        for _ in range(max_new_tokens):
            logits, _ = model(x, cache=cache)
            out.append(int(logits[0, -1].argmax()))
            if stop in tokenizer.decode(out[-4:]):  # a marker is a few tokens long
                break
            x = torch.tensor([[out[-1]]], device=model.device)  # (1, 1): the cache holds the rest
    return tokenizer.decode(out).split(stop, 1)[0]


def chat_reply(model: GPT, tokenizer, messages: Sequence[dict], max_new_tokens: int = 48,
               max_messages: int | None = None) -> str:
    """The model's next assistant turn (greedy), read from the latest whole messages that leave
    `max_new_tokens` free in the window (`fit_history`). It is cut where a marker starts ("<|"): a small model
    may garble the several tokens of <|end|>, and a reply never contains "<|"."""
    kept = fit_history(tokenizer, messages, model.config.block_size - max_new_tokens, max_messages)
    ids = encode_chat(tokenizer, kept, add_generation_prompt=True)
    return _greedy_until(model, tokenizer, ids, max_new_tokens, "<|").strip()


# ------------------------------------------------------------------------------------ notebook 16's recipe


@dataclass(frozen=True)
class ChatRecipe:
    """How notebook 16 fine-tunes the course model on the shop's dialogues (and the benchmark measures it)."""

    train_dialogues: int = 4800  # dialogues of the train split (about 11,000 replies; 600 steps of 16 read most once)
    history: int = 3             # messages before a reply that the model reads: the request and the exchange before it
    reply_tokens: int = 48       # room kept in the window for the reply (the longest reply and its <|end|> fit)
    steps: int = 600             # chosen on the valid split (benchmarks/README.md: 300 copied fewer details)
    lr: float = 1e-3
    batch_size: int = 16
    dropout: float = 0.0         # during fine-tuning (the course model was pretrained with 0.15)
    seed: int = 0
    eval_dialogues: int = 80     # held-out dialogues scored (valid while choosing, test once)
    # Every training item and task is invented from WikiText words, and the dialogues are so many that most
    # details occur once: a detail cannot be remembered, only copied (benchmarks/README.md: on the valid split
    # 68-73 % of the slot values copied exactly, against 60-61 % with the train split's own 24 items per kind).
    made_up: float = 1.0         # share of the training items and tasks invented from WikiText words (copied, not recalled)
    # Rehearsal, off: it keeps the model's text but copied fewer details here (notebook 16's exercise 5 tries it).
    rehearsal_rows: int = 0      # WikiText windows read beside every batch (0: none) ...
    rehearsal_weight: float = 0.5  # ... and their loss's weight: the model keeps its text while it learns to chat

    @classmethod
    def for_mode(cls) -> "ChatRecipe":
        """The learner-mode recipe, or a much shorter run in test mode (GPT_COURSE_FAST=1)."""
        return pick(cls(), cls(train_dialogues=200, steps=30, eval_dialogues=20))

    def config(self) -> dict:
        return asdict(self)


def training_dialogues(recipe: ChatRecipe) -> list:
    """The recipe's training dialogues: `recipe.train_dialogues` of the train split (seed `recipe.seed`), with
    `recipe.made_up` of their items and tasks invented from the words of WikiText's train split."""
    from .data import load_wikitext2
    from .dialogue_data import made_up_words, make_dialogues

    words = made_up_words(load_wikitext2("train")) if recipe.made_up else ()
    return make_dialogues(recipe.train_dialogues, "train", seed=recipe.seed, made_up=recipe.made_up, words=words)


def dialogue_examples(tokenizer, dialogues, block_size: int, recipe: ChatRecipe) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One (x, y) per assistant reply: the history a prompt would keep (`fit_history`) and the reply, trained."""
    out = []
    for d in dialogues:
        for history, reply, _ in d.turns():
            kept = fit_history(tokenizer, history, block_size - recipe.reply_tokens, recipe.history)
            out.append(reply_example(tokenizer, kept, reply, block_size))
    return out


def _set_dropout(model: GPT, p: float) -> None:
    """Every dropout of the model (residual, MLP, embedding and attention weights) set to rate p."""
    from .attention import MultiHeadAttention

    model.config = dataclasses.replace(model.config, dropout=p)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
        elif isinstance(module, MultiHeadAttention):
            module.dropout = p


def fine_tune_chat(model: GPT, tokenizer, train, recipe: ChatRecipe, valid=None, progress: bool = True):
    """A fine-tuned copy of `model` (all weights, dropout on) and its `History`; `valid` dialogues give the
    held-out reply loss during training. With `recipe.rehearsal_rows`, WikiText's train split (the pretraining
    text) is rehearsed beside the dialogues (`train_sft`'s `rehearsal`). The original model is left as it was."""
    from .data import load_wikitext2

    block = model.config.block_size
    examples = dialogue_examples(tokenizer, train, block, recipe)
    valid_examples = None if valid is None else dialogue_examples(tokenizer, valid, block, recipe)
    rehearsal = (torch.tensor(tokenizer.encode(load_wikitext2("train")), dtype=torch.long)
                 if recipe.rehearsal_rows else None)
    chat_model = copy.deepcopy(model)
    _set_dropout(chat_model, recipe.dropout)
    torch.manual_seed(recipe.seed)  # dropout
    fit = train_sft(chat_model, examples, steps=recipe.steps, lr=recipe.lr, batch_size=recipe.batch_size,
                    valid=valid_examples, eval_interval=max(1, recipe.steps // 6), seed=recipe.seed,
                    progress=progress, desc="chat fine-tune", rehearsal=rehearsal,
                    rehearsal_rows=recipe.rehearsal_rows, rehearsal_weight=recipe.rehearsal_weight)
    return chat_model, fit


def evaluate_dialogues(model: GPT, tokenizer, dialogues, recipe: ChatRecipe) -> list[dict]:
    """Every assistant turn of `dialogues`, answered by the model after the true history: one row each with the
    reference, the reply, whether it follows the right intent, and whether it copies the slot values exactly."""
    from .dialogue_data import SLOT_INTENTS, reply_intent, reply_slots

    rows = []
    for d in dialogues:
        for history, reference, intent in d.turns():
            reply = chat_reply(model, tokenizer, history, recipe.reply_tokens, recipe.history)
            said = reply_intent(reply)
            previous = [m["content"] for m in history if m["role"] == "assistant"][-1:]
            needs_slots = intent in SLOT_INTENTS
            rows.append({"intent": intent, "reference": reference, "reply": reply, "said": said,
                         "exact": reply == reference, "intent_match": said == intent,
                         "needs_slots": needs_slots,
                         "slots_exact": needs_slots and reply_slots(reply, intent) == reply_slots(reference, intent),
                         "previous": reply_intent(previous[0]) if previous else None,
                         "last_user": history[-1]["content"]})
    return rows


def dialogue_scores(rows: Sequence[dict]) -> dict:
    """Exact match and intent accuracy over all replies; slot accuracy over the replies that carry slot values
    (an order number, item, task or time), counted right only if every value is copied exactly. Each rate comes
    with its 95% interval (`wilson_interval`)."""
    if not rows:
        raise ValueError("no replies to score: give at least one dialogue")
    slot_rows = [r for r in rows if r["needs_slots"]]
    out = {"replies": len(rows), "slot_replies": len(slot_rows)}
    for name, key, subset in (("exact_match", "exact", rows), ("intent_accuracy", "intent_match", rows),
                              ("slot_exact", "slots_exact", slot_rows)):
        k = sum(bool(r[key]) for r in subset)
        out[name] = k / len(subset) if subset else float("nan")
        out[name + "_interval"] = wilson_interval(k, len(subset)) if subset else (float("nan"), float("nan"))
    return out
