"""Notebook 15's held-out figures: ROUGE-L of the titles the fine-tuned model writes for the test articles' leads,
beside the best simple rule (chosen on the valid split, scored on test).

Uses `gpt_course.summarization_data`'s recipe (`SummarizationRecipe`, `fine_tune_summarizer`, `summarize`), as the
notebook does: fine-tuned on the train articles (augmented), the 60 official test articles scored once per seed.
The recipe runs with several seeds (the made-up names and the batches; the notebook runs seed 0): the main figure is
the mean, each seed's figure and the spread beside it; the examples and counts are seed 0's.
"""
from __future__ import annotations

import dataclasses
import statistics

import numpy as np

import gpt_course as gc
from gpt_course.evaluate import mean_rouge, rouge_l
from gpt_course.summarization_data import (
    RULES,
    SummarizationRecipe,
    fine_tune_summarizer,
    rule_scores,
    summarization_splits,
    summarize,
)

SEEDS = (0, 1, 2)


def measure(quick: bool) -> dict:
    recipe = SummarizationRecipe(steps=20) if quick else SummarizationRecipe()
    seeds = (recipe.seed,) if quick else SEEDS
    model, tok = gc.load_course_model()
    model = model.cpu()  # CPU results are reproducible, and the model is small
    splits = summarization_splits(recipe.max_words)
    best_rule = max(rule_scores(splits["valid"]).items(), key=lambda kv: kv[1])[0]  # chosen on valid
    leads, titles = zip(*splits["test"])
    rule_out = [RULES[best_rule](lead) for lead in leads]
    rule_score = mean_rouge(rule_out, titles)["rougeL"]
    runs = []
    for seed in seeds:
        tuned, fit = fine_tune_summarizer(model, tok, splits["train"], dataclasses.replace(recipe, seed=seed),
                                          progress=False)
        written = summarize(tuned, tok, leads, recipe)
        runs.append((written, mean_rouge(written, titles), float(np.mean(fit.train_loss[-20:]))))
    written = runs[0][0]
    per_article = np.array([rouge_l(w, t).f1 for w, t in zip(written, titles)])
    rouge = [s["rougeL"] for _, s, _ in runs]
    mean = statistics.mean(rouge)
    return {
        "rouge_l": round(mean, 4),
        "rouge_l_per_seed": [round(v, 4) for v in rouge],
        **({"rouge_l_std": round(statistics.stdev(rouge), 4)} if len(rouge) > 1 else {}),
        "rouge_l_standard_error_first_seed": round(float(per_article.std(ddof=1) / np.sqrt(len(per_article))), 4),
        "rouge_1": round(statistics.mean(s["rouge1"] for _, s, _ in runs), 4),
        "rouge_l_best_rule": round(rule_score, 4),
        "best_rule": best_rule,
        "ratio_to_best_rule": round(mean / rule_score, 4),
        "ratio_to_best_rule_per_seed": [round(v / rule_score, 4) for v in rouge],
        "exact_titles_first_seed": int(sum(w == t for w, t in zip(written, titles))),
        "same_as_rule_first_seed": int(sum(w == r for w, r in zip(written, rule_out))),
        "test_articles": len(titles),
        "final_train_loss": round(statistics.mean(loss for _, _, loss in runs), 4),
        "seeds": list(seeds),
        "config": recipe.config(),
        "split": "test: the 60 official WikiText-2 test articles (not in pretraining); rule chosen on valid",
        "examples": [{"lead": lead, "title": t, "model": w} for lead, t, w in list(zip(leads, titles, written))[:5]],
    }
