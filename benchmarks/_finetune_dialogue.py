"""Notebook 16's held-out figures: intent accuracy and exactly copied slot values of the fine-tuned chat model.

Uses `gpt_course.chat`'s recipe (`ChatRecipe`, `fine_tune_chat`, `evaluate_dialogues`, `dialogue_scores`), as the
notebook does: the model is fine-tuned on the train split and the test split (new phrasings, new order numbers,
items, tasks and times) is scored once. Each rate comes with its 95% Wilson interval.
"""
from __future__ import annotations

import gpt_course as gc
from gpt_course.chat import ChatRecipe, dialogue_scores, evaluate_dialogues, fine_tune_chat
from gpt_course.dialogue_data import make_dialogues


def measure(quick: bool, start=None) -> dict:
    """`start`: (model, tokenizer) to fine-tune instead of the shipped checkpoint (benchmarks/copy_practice.py)."""
    recipe = ChatRecipe(train_dialogues=200, steps=30, eval_dialogues=20) if quick else ChatRecipe()
    model, tok = start if start is not None else gc.load_course_model()
    model = model.cpu()  # CPU results are reproducible, and the model is small
    train = make_dialogues(recipe.train_dialogues, "train", seed=recipe.seed)
    chat_model, fit = fine_tune_chat(model, tok, train, recipe, progress=False)
    test = make_dialogues(recipe.eval_dialogues, "test", seed=0)
    scores = dialogue_scores(evaluate_dialogues(chat_model, tok, test, recipe))
    known = dialogue_scores(evaluate_dialogues(chat_model, tok, make_dialogues(recipe.eval_dialogues, "test", seed=0,
                                                                               phrasings="train"), recipe))
    rnd = lambda v: [round(x, 4) for x in v] if isinstance(v, tuple) else round(v, 4)  # noqa: E731
    return {
        "intent_accuracy": rnd(scores["intent_accuracy"]),
        "intent_accuracy_interval95": rnd(scores["intent_accuracy_interval"]),
        "slot_exact": rnd(scores["slot_exact"]),
        "slot_exact_interval95": rnd(scores["slot_exact_interval"]),
        "exact_match": rnd(scores["exact_match"]),
        "test_dialogues": recipe.eval_dialogues,
        "test_replies": scores["replies"],
        "test_slot_replies": scores["slot_replies"],
        "train_phrasings_intent_accuracy": rnd(known["intent_accuracy"]),
        "train_phrasings_slot_exact": rnd(known["slot_exact"]),
        "final_train_loss": round(sum(fit.train_loss[-20:]) / len(fit.train_loss[-20:]), 4),
        "seeds": [recipe.seed],
        "config": recipe.config(),
        "split": "test: held-out user phrasings and held-out order numbers, items, tasks and times",
    }
