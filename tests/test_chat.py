"""Chat: the template, the loss mask on user turns, the reply, and the synthetic dialogues of notebook 16."""
import pytest
import torch

from gpt_course import GPT, GPTConfig
from gpt_course.chat import ASSISTANT, END, USER, chat_reply, chat_template, encode_chat, mask_user_turns
from gpt_course.finetune import train_sft
from gpt_course.model import IGNORE_INDEX
from gpt_course.tokenizers import ByteTokenizer


def tiny_gpt(seed=0, **overrides) -> GPT:
    torch.manual_seed(seed)
    cfg = dict(vocab_size=256, block_size=32, n_layer=3, n_head=2, n_embd=32)
    return GPT(GPTConfig(**{**cfg, **overrides})).eval()


def _chat():
    return [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Opening hours?"}, {"role": "assistant", "content": "9 to 5."}]


def test_chat_template_text_and_tokens_agree():
    tok = ByteTokenizer()
    text = chat_template(_chat())
    assert text == (f"{USER}Hi there{END}\n{ASSISTANT}Hello! How can I help?{END}\n"
                    f"{USER}Opening hours?{END}\n{ASSISTANT}9 to 5.{END}\n")
    assert tok.decode(encode_chat(tok, _chat())) == text
    cue = chat_template(_chat()[:1], add_generation_prompt=True)
    assert cue.endswith(f"{END}\n{ASSISTANT}") and tok.decode(encode_chat(tok, _chat()[:1], True)) == cue
    with pytest.raises(ValueError, match="unknown role"):
        chat_template([{"role": "system", "content": "x"}])


def test_mask_user_turns_trains_exactly_the_assistant_tokens():
    tok = ByteTokenizer()
    x, y = mask_user_turns(tok, _chat(), block_size=128)
    ids = encode_chat(tok, _chat())
    assert x.tolist() == ids[:-1]
    trained = tok.decode(y[y != IGNORE_INDEX].tolist())
    assert trained == f"Hello! How can I help?{END}9 to 5.{END}"
    # position by position: a target is trained iff it lies inside an assistant's content or <|end|>
    text = tok.decode(ids)
    spans = []
    for m in _chat():
        if m["role"] == "assistant":
            start = text.index(ASSISTANT + m["content"]) + len(ASSISTANT)
            spans.append((start, start + len(m["content"] + END)))
    for j in range(len(ids) - 1):
        inside = any(a <= j + 1 < b for a, b in spans)
        assert (y[j] != IGNORE_INDEX) == inside, j


def test_mask_user_turns_keeps_the_end_and_masks_a_cut_assistant_turn():
    tok = ByteTokenizer()
    full = len(encode_chat(tok, _chat()))
    second_turn = len(encode_chat(tok, _chat()[2:]))
    x, y = mask_user_turns(tok, _chat(), block_size=second_turn + 5)  # cuts into the first reply
    assert x.numel() == second_turn + 5 < full
    assert tok.decode(y[y != IGNORE_INDEX].tolist()) == f"9 to 5.{END}"


def test_chat_reply_stops_at_the_end_marker():
    tok = ByteTokenizer()
    model = tiny_gpt(block_size=64)
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]
    examples = [mask_user_turns(tok, chat, 64)] * 8
    train_sft(model, examples, steps=60, lr=3e-3, batch_size=8, progress=False)
    assert chat_reply(model, tok, chat[:1], max_new_tokens=12) == "ok"


# ----------------------------------------------------------------------------------------- the dialogue data set


def test_dialogues_are_reproducible_and_well_formed():
    from gpt_course.dialogue_data import INTENTS, make_dialogues, reply_intent

    a, b = make_dialogues(300, "train", seed=0), make_dialogues(300, "train", seed=0)
    assert [d.messages for d in a] == [d.messages for d in b]  # seeded: the same dialogues every time
    assert [d.messages for d in make_dialogues(300, "train", seed=1)] != [d.messages for d in a]
    seen = set()
    for d in a:
        roles = [m["role"] for m in d.messages]
        assert roles == ["user", "assistant"] * (len(roles) // 2)
        for _, reply, intent in d.turns():
            assert reply_intent(reply) == intent  # every reply follows its intent's template
            seen.add(intent)
    assert seen == set(INTENTS)  # every intent occurs, small talk included
    assert reply_intent("Order 123 is on the moon.") is None


def test_test_split_shares_no_user_turn_or_detail_with_train():
    from gpt_course.dialogue_data import _PATTERNS, make_dialogues

    def users(dialogues):
        return {m["content"] for d in dialogues for m in d.messages if m["role"] == "user"}

    def details(dialogues):  # the slot values (order numbers, items, tasks, times) copied into the replies
        return {value for d in dialogues for _, reply, intent in d.turns()
                for value in _PATTERNS[intent].fullmatch(reply).groups()}

    train, test = make_dialogues(600, "train"), make_dialogues(200, "test")
    known = make_dialogues(200, "test", phrasings="train")  # held-out details in the train split's phrasings
    assert not users(train) & users(test) and not details(train) & details(test)
    assert not details(train) & details(known) and details(known)
    assert len(users(known) & users(train)) > 20  # requests without details are train turns word for word
    with pytest.raises(ValueError, match="split"):
        make_dialogues(1, "valid")
