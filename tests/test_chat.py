"""Chat: the template, the loss mask on user turns, the reply, and the synthetic dialogues of notebook 16."""
import pytest
import torch

from gpt_course import GPT, GPTConfig
from gpt_course.chat import (ASSISTANT, END, USER, chat_reply, chat_template, encode_chat, fit_history,
                             mask_user_turns, reply_example)
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


def test_held_out_splits_share_no_user_turn_or_detail_with_train():
    from gpt_course.dialogue_data import _PATTERNS, USER, make_dialogues

    def users(dialogues):
        return {m["content"] for d in dialogues for m in d.messages if m["role"] == "user"}

    def details(dialogues):  # the slot values (order numbers, items, tasks, times) copied into the replies
        return {value for d in dialogues for _, reply, intent in d.turns()
                for value in _PATTERNS[intent].fullmatch(reply).groups()}

    for kind, (train_p, valid_p, test_p) in USER.items():  # each phrasing belongs to one split
        assert not set(train_p) & set(valid_p) and not set(train_p) & set(test_p) and not set(valid_p) & set(test_p)
    train = make_dialogues(600, "train")
    valid, test = make_dialogues(200, "valid"), make_dialogues(200, "test")
    for held_out in (valid, test):
        assert not users(train) & users(held_out) and not details(train) & details(held_out)
    assert not users(valid) & users(test) and not details(valid) & details(test)
    known = make_dialogues(200, "test", phrasings="train")  # held-out details in the train split's phrasings
    assert not details(train) & details(known) and details(known)
    assert len(users(known) & users(train)) > 20  # requests without details are train turns word for word
    with pytest.raises(ValueError, match="split"):
        make_dialogues(1, "dev")


def test_user_phrasing_finds_the_phrasing_a_user_turn_was_written_from():
    from gpt_course.dialogue_data import OPENERS, SPLITS, USER, make_dialogues, user_phrasing

    values = {"num": "40187", "time": "10:45 am", "item": "wool socks", "task": "feed the cat"}
    for kinds in USER.values():
        for phrasings in kinds:
            for template in phrasings:  # every phrasing, as written, behind an opener, in lower case
                text = template.format(**values)
                for variant in (text, OPENERS[1] + text[0].lower() + text[1:], (OPENERS[2] + text).lower()):
                    assert user_phrasing(variant) == template, variant
    for split in SPLITS:  # every user turn of a split's dialogues was written in one of that split's phrasings
        for d in make_dialogues(100, split, seed=3):
            for m in d.messages[::2]:
                template = user_phrasing(m["content"])
                assert any(template in kinds[SPLITS.index(split)] for kinds in USER.values()), m["content"]
    assert user_phrasing("Please wrap the wool socks as a gift.") is None
    assert user_phrasing("Wake me up at 25:99 am.") is None  # not a time


def test_made_up_details_are_new_words_and_leave_the_rest_alone():
    from gpt_course.dialogue_data import (_PATTERNS, GROCERIES, PRODUCTS, TASKS, TIMES, made_up_words,
                                          make_dialogues, split_values)

    text = " ".join(f"word{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(400)) + " lamp the milk"
    words = made_up_words(text)
    assert "lamp" not in words and "the" not in words and "milk" in words  # held-out words left out, train ones kept
    real = make_dialogues(100, "train", seed=3)
    assert [d.messages for d in make_dialogues(100, "train", seed=3, made_up=0.0, words=words)] == \
        [d.messages for d in real]  # no made-up share: the split's own dialogues, unchanged
    made = make_dialogues(300, "train", seed=3, made_up=1.0, words=words)
    assert [d.messages for d in made] == [d.messages for d in make_dialogues(300, "train", seed=3, made_up=1.0,
                                                                               words=words)]
    known = set(PRODUCTS) | set(GROCERIES) | set(TASKS)
    items, tasks, times = [], [], []
    for d in made:
        for _, reply, intent in d.turns():
            values = _PATTERNS[intent].fullmatch(reply).groups()
            if intent in ("return_item", "add_to_list"):
                items.append(values[0])
            elif intent == "set_reminder":
                tasks.append(values[0])
                times.append(values[1])
    assert items and tasks and not (set(items) | set(tasks)) & known  # every item and task invented ...
    assert all(set(v.split()[-1:]) <= set(words) for v in items + tasks)  # ... from the given words
    assert {t.split()[0] for t in tasks} <= {t.split()[0] for t in split_values(TASKS, "train")}  # a train verb
    assert set(times) <= set(split_values(TIMES, "train"))  # times stay the split's own
    with pytest.raises(ValueError, match="training"):
        make_dialogues(5, "test", made_up=0.5, words=words)
    with pytest.raises(ValueError, match="words"):
        make_dialogues(5, "train", made_up=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        make_dialogues(5, "train", made_up=1.5, words=words)
    with pytest.raises(ValueError, match="usable words"):
        made_up_words("too few words here")


# ----------------------------------------------------------------------------------------- the history that fits


def _long_chat(n_exchanges=6):
    chat = []
    for k in range(n_exchanges):
        chat += [{"role": "user", "content": f"question number {k} is here"},
                 {"role": "assistant", "content": f"answer number {k}"}]
    return chat + [{"role": "user", "content": "last question"}]


def test_fit_history_drops_whole_old_turns_and_starts_with_the_user():
    tok = ByteTokenizer()
    chat = _long_chat()
    for budget in (50, 80, 120, 200):
        kept = fit_history(tok, chat, budget)
        assert kept == chat[len(chat) - len(kept):]  # a suffix of whole messages
        assert kept[0]["role"] == "user" and kept[-1]["content"] == "last question"
        assert len(encode_chat(tok, kept, add_generation_prompt=True)) <= budget
        longer = chat[len(chat) - len(kept) - 2:]  # one more exchange would not fit
        assert len(kept) == len(chat) or len(encode_chat(tok, longer, add_generation_prompt=True)) > budget
    assert fit_history(tok, chat, 10_000, max_messages=3) == chat[-3:]
    with pytest.raises(ValueError, match="shorten the message"):
        fit_history(tok, chat, 10)
    with pytest.raises(ValueError, match="ends with the user's message"):
        fit_history(tok, chat[:-1], 100)


def test_reply_example_trains_only_the_last_reply():
    tok = ByteTokenizer()
    history = _chat()[:3]
    x, y = reply_example(tok, history, "9 to 5.", block_size=128)
    ids = encode_chat(tok, _chat())
    assert x.tolist() == ids[:-2]  # the chat without its final newline
    assert tok.decode(y[y != IGNORE_INDEX].tolist()) == f"9 to 5.{END}"  # the earlier reply is only read
    with pytest.raises(ValueError, match="fit the history"):
        reply_example(tok, history, "9 to 5.", block_size=20)


def test_chat_reply_reads_whole_turns_that_fit():
    """The reply is written with the whole latest turns in view: a prompt is never cut inside a turn."""
    tok = ByteTokenizer()
    model = tiny_gpt(block_size=64)
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]
    train_sft(model, [mask_user_turns(tok, chat, 64)] * 8, steps=60, lr=3e-3, batch_size=8, progress=False)
    long = _long_chat(4)[:-1] + chat[:1]  # much longer than the window
    assert len(encode_chat(tok, long, True)) > 64
    assert chat_reply(model, tok, long, max_new_tokens=12) == "ok"  # only the last "hi" fits with 12 new tokens
    with pytest.raises(ValueError, match="shorten the message"):
        chat_reply(model, tok, [{"role": "user", "content": "x" * 80}], max_new_tokens=12)


# ----------------------------------------------------------------------------------------- scoring and the recipe


def test_dialogue_scores_count_intents_and_exact_slots():
    from gpt_course.chat import dialogue_scores, wilson_interval
    from gpt_course.dialogue_data import reply_slots

    assert reply_slots("Order 12345 is cancelled. Your refund will arrive within five days.", "cancel_order") == ("12345",)
    assert reply_slots("Order 12345 has shipped and will arrive within three working days.", "cancel_order") is None
    rows = [  # right; right intent with a wrong time; wrong intent; a reply without slots
        {"exact": True, "intent_match": True, "needs_slots": True, "slots_exact": True},
        {"exact": False, "intent_match": True, "needs_slots": True, "slots_exact": False},
        {"exact": False, "intent_match": False, "needs_slots": True, "slots_exact": False},
        {"exact": True, "intent_match": True, "needs_slots": False, "slots_exact": False},
    ]
    s = dialogue_scores(rows)
    assert (s["intent_accuracy"], s["slot_exact"], s["exact_match"]) == (0.75, pytest.approx(1 / 3), 0.5)
    assert (s["replies"], s["slot_replies"]) == (4, 3)
    lo, hi = wilson_interval(3, 4)
    assert s["intent_accuracy_interval"] == (lo, hi) and 0 < lo < 0.75 < hi < 1
    assert wilson_interval(90, 100)[1] - wilson_interval(90, 100)[0] < hi - lo  # more replies, a narrower interval
    with pytest.raises(ValueError, match="no replies"):
        dialogue_scores([])


def test_dialogue_examples_follow_the_prompt_rule():
    """A training example is the prompt `chat_reply` would build, then the reply: the same history, whole turns."""
    from gpt_course.chat import ChatRecipe, dialogue_examples
    from gpt_course.dialogue_data import make_dialogues
    from gpt_course.tokenizers import ByteTokenizer

    tok, recipe = ByteTokenizer(), ChatRecipe(reply_tokens=160)  # one token per byte: replies are long
    dialogues = make_dialogues(20, "train")
    examples = dialogue_examples(tok, dialogues, 320, recipe)
    turns = [t for d in dialogues for t in d.turns()]
    assert len(examples) == len(turns)
    for (x, y), (history, reply, _) in zip(examples, turns):
        prompt = encode_chat(tok, fit_history(tok, history, 320 - recipe.reply_tokens, recipe.history), True)
        assert x.tolist()[: len(prompt)] == prompt
        assert tok.decode(y[y != IGNORE_INDEX].tolist()) == reply + END


@pytest.mark.slow
def test_finetune_benchmark_dialogue_quick():
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "finetune.py"
    out = subprocess.run([sys.executable, str(script), "--quick", "--only", "dialogue"], capture_output=True,
                         text=True, timeout=900, env={**os.environ, "GPT_COURSE_FAST": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)["dialogue"]
    for key in ("intent_accuracy", "slot_exact", "exact_match"):
        assert 0.0 <= r[key] <= 1.0
        assert r[key + "_per_seed"] == [r[key]]  # quick mode: one seed, so the mean is that seed's figure
        if key != "exact_match":
            lo, hi = r[key + "_interval95_first_seed"]
            assert lo <= r[key + "_per_seed"][0] <= hi
    assert r["test_replies"] > r["test_slot_replies"] > 0 and r["seeds"] == [0]
    assert r["config"]["steps"] == 30 and r["final_train_loss"] < 5.0  # 30 steps already learn the format
