"""Checks for notebook 16 (dialogue: the chat prompt, cutting the reply, the loss mask)."""
from . import Mistake, call, exercise

_CHATS = [
    [{"role": "user", "content": "Hi!"}],
    [{"role": "user", "content": "Where is order 12345?"},
     {"role": "assistant", "content": "Order 12345 has shipped."}, {"role": "user", "content": "Thanks, bye!"}],
]


@exercise("16.chat_prompt")
def chat_prompt(fn):
    from ..chat import ASSISTANT, chat_template

    for messages in _CHATS:
        expected = chat_template(messages, add_generation_prompt=True)
        got = call(fn, [dict(m) for m in messages])
        if got == expected:
            continue
        if isinstance(got, str) and got == chat_template(messages):
            raise Mistake(f"the prompt must end with the cue {ASSISTANT!r}, or the model does not know that "
                          f"it is its turn to speak")
        if isinstance(got, str) and got.replace("\n", "") == expected.replace("\n", ""):
            raise Mistake("each turn ends with <|end|> and a newline, '\\n'")
        raise Mistake(f"for {messages} expected {expected!r}, got {got!r}")


@exercise("16.first_reply")
def first_reply(fn):
    cases = [("Your alarm is set for 7 am.<|end|>\n<|user|>Thanks<|end|>\n<|assistant|>You're welcome.<|end|>",
              "Your alarm is set for 7 am."),
             (" We accept cards.<|end|end|>", "We accept cards."), ("no marker at all ", "no marker at all")]
    for text, expected in cases:
        got = call(fn, text)
        if got == expected:
            continue
        if isinstance(got, str) and "<|user|>" in got:
            raise Mistake("cut at the FIRST '<|': what follows is the model imagining the next turns")
        raise Mistake(f"for {text!r} expected {expected!r}, got {got!r}")


@exercise("16.loss_mask")
def loss_mask(fn):
    for turns in ([("user", 3), ("assistant", 2)], [("user", 1), ("assistant", 4), ("user", 2), ("assistant", 1)],
                  [("assistant", 2), ("user", 2)]):
        expected = [role == "assistant" for role, n in turns for _ in range(n)]
        got = call(fn, list(turns))
        got = [bool(v) for v in got] if isinstance(got, (list, tuple)) else got
        if got == expected:
            continue
        if got == [not v for v in expected]:
            raise Mistake("inverted: the model should learn the assistant's words (True) and only read the "
                          "user's (False)")
        raise Mistake(f"for turns {turns} expected {expected}, got {got}")
