"""Notebook 14's held-out figures: the spam classifier over SPAM_SEEDS, the transfer runs, the bag-of-words rival.

Uses `gpt_course.finetune`'s recipe (`sms_spam_task`, `SPAM_RUNS`, `fine_tune_and_test`), as the notebook does:
the threshold is chosen on the validation split, the test split is scored once per run. Every run uses all of
SPAM_SEEDS here; the notebook gives the comparison runs (a)-(c) two of them, to stay within its time budget.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

import gpt_course as gc
from gpt_course.finetune import (
    SPAM_RUNS,
    SPAM_SEEDS,
    ClassificationData,
    bag_of_words_baseline,
    fine_tune_and_test,
    sms_spam_task,
)

MAIN = "full fine-tune"


def _mean_std(values) -> tuple[float, float]:
    return round(float(np.mean(values)), 4), round(float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, 4)


def _sample(part: tuple, index: np.ndarray) -> tuple[list[str], list[int], ClassificationData]:
    texts, labels, data = part
    return [texts[i] for i in index], [labels[i] for i in index], data.subset(torch.as_tensor(index))


def measure(quick: bool) -> dict:
    model, tok = gc.load_course_model()
    model = model.cpu()  # CPU results are reproducible, and the model is small
    task = sms_spam_task(tok, pad_id=0, max_len=model.config.block_size)
    runs, seeds = dict(SPAM_RUNS), SPAM_SEEDS
    if quick:  # a smoke run: small samples, one seed, one short run (not the notebook's figures)
        g = np.random.default_rng(0)
        for name, n in (("train", 128), ("test", 256)):
            task[name] = _sample(task[name], np.sort(g.choice(len(task[name][0]), n, replace=False)))
        runs, seeds = {MAIN: dataclasses.replace(SPAM_RUNS[MAIN], epochs=1)}, (0,)
    train, valid, test = (task[name][2] for name in ("train", "valid", "test"))
    out: dict = {"test_messages": len(test), "test_spam": int(test.labels.sum()), "train_messages": len(train),
                 "train_spam": int(train.labels.sum()), "valid_messages": len(valid), "seeds": list(seeds),
                 "threshold_chosen_on": "valid", "runs": {}}
    for name, recipe in runs.items():
        per_seed = [fine_tune_and_test(model, recipe, train, valid, test, pad_id=0, seed=s, progress=False)
                    for s in seeds]
        row = {"recipe": dataclasses.asdict(recipe)}
        for key in ("accuracy", "precision", "recall", "f1", "threshold"):
            row[key] = [round(r[key], 4) for r in per_seed]
            row[f"{key}_mean"], row[f"{key}_std"] = _mean_std(row[key])
        out["runs"][name] = row
    main = out["runs"][MAIN]
    out.update({"recipe": MAIN, "config": main["recipe"], "accuracy_mean": main["accuracy_mean"],
                "accuracy_std": main["accuracy_std"], "f1_mean": main["f1_mean"], "f1_std": main["f1_std"],
                "precision_mean": main["precision_mean"], "recall_mean": main["recall_mean"]})
    bow = bag_of_words_baseline(*(task[name][:2] for name in ("train", "valid", "test")))
    out["bag_of_words_f1"], out["bag_of_words_accuracy"] = round(bow["f1"], 4), round(bow["accuracy"], 4)
    return out
