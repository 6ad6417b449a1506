"""Notebook 16's held-out figures: intent accuracy and exactly copied slot values of the fine-tuned chat model.

Uses `gpt_course.chat`'s recipe (`ChatRecipe`, `fine_tune_chat`, `evaluate_dialogues`, `dialogue_scores`), as the
notebook does: the model is fine-tuned on the train split and the test split (new phrasings, new order numbers,
items, tasks and times) is scored once. The recipe runs with several seeds (the training dialogues drawn and the
batches; the notebook runs seed 0): the main figures are the means, each seed's figures and the spread beside them,
and seed 0's 95% Wilson intervals.
"""
from __future__ import annotations

import dataclasses
import statistics

import gpt_course as gc
from gpt_course.chat import ChatRecipe, dialogue_scores, evaluate_dialogues, fine_tune_chat, training_dialogues
from gpt_course.dialogue_data import make_dialogues

SEEDS = (0, 1, 2)


def _one_seed(model, tok, recipe: ChatRecipe) -> dict:
    train = training_dialogues(recipe)
    chat_model, fit = fine_tune_chat(model, tok, train, recipe, progress=False)
    test = make_dialogues(recipe.eval_dialogues, "test", seed=0)  # the same held-out dialogues for every seed
    scores = dialogue_scores(evaluate_dialogues(chat_model, tok, test, recipe))
    known = dialogue_scores(evaluate_dialogues(chat_model, tok, make_dialogues(recipe.eval_dialogues, "test", seed=0,
                                                                               phrasings="train"), recipe))
    return {**scores, "train_phrasings_intent_accuracy": known["intent_accuracy"],
            "train_phrasings_slot_exact": known["slot_exact"],
            "final_train_loss": sum(fit.train_loss[-20:]) / len(fit.train_loss[-20:])}


def measure(quick: bool, start=None, seeds=None) -> dict:
    """`start`: (model, tokenizer) to fine-tune instead of the shipped checkpoint (benchmarks/copy_practice.py);
    `seeds`: the recipe's seeds to run (default: SEEDS, or seed 0 alone in quick mode)."""
    recipe = ChatRecipe(train_dialogues=200, steps=30, eval_dialogues=20) if quick else ChatRecipe()
    seeds = tuple(seeds or ((recipe.seed,) if quick else SEEDS))
    model, tok = start if start is not None else gc.load_course_model()
    model = model.cpu()  # CPU results are reproducible, and the model is small
    runs = [_one_seed(model, tok, dataclasses.replace(recipe, seed=s)) for s in seeds]
    rnd = lambda v: [round(x, 4) for x in v] if isinstance(v, (tuple, list)) else round(v, 4)  # noqa: E731
    out = {}
    for key in ("intent_accuracy", "slot_exact", "exact_match", "train_phrasings_intent_accuracy",
                "train_phrasings_slot_exact", "final_train_loss"):
        values = [r[key] for r in runs]
        out[key] = rnd(statistics.mean(values))
        out[key + "_per_seed"] = rnd(values)
        if len(values) > 1:
            out[key + "_std"] = rnd(statistics.stdev(values))
    first = runs[0]
    return {
        **out,
        "intent_accuracy_interval95_first_seed": rnd(first["intent_accuracy_interval"]),
        "slot_exact_interval95_first_seed": rnd(first["slot_exact_interval"]),
        "test_dialogues": recipe.eval_dialogues,
        "test_replies": first["replies"],
        "test_slot_replies": first["slot_replies"],
        "seeds": list(seeds),
        "config": recipe.config(),
        "split": "test: held-out user phrasings and held-out order numbers, items, tasks and times",
    }
