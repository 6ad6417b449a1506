"""Chat: the template a conversation is written in, its loss mask, and the model's reply (notebook 16).

A chat is plain text with role markers, so the course's byte-level BPE needs no special tokens; fine-tuning
trains only the assistant's words (`mask_user_turns`), with `finetune.train_sft`.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .finetune import _pack
from .generate import generate_text
from .model import GPT

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


def chat_reply(model: GPT, tokenizer, messages: Sequence[dict], max_new_tokens: int = 40) -> str:
    """The model's next assistant turn (greedy). It is cut where a marker starts ("<|"): a small model may
    garble the several tokens of <|end|>, and a reply never contains "<|"."""
    ids = encode_chat(tokenizer, messages, add_generation_prompt=True)
    return generate_text(model, tokenizer, ids, max_new_tokens, temperature=0.0, stop="<|", fit_window=True).strip()
