"""Notebook 15's held-out figures: ROUGE-L of the titles the fine-tuned model writes for the test articles' leads,
beside the best simple rule (chosen on the valid split, scored on test).

Uses `gpt_course.summarization_data`'s recipe (`SummarizationRecipe`, `fine_tune_summarizer`, `summarize`), as the
notebook does: fine-tuned on the train articles (augmented), the 60 official test articles scored once.
"""
from __future__ import annotations

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


def measure(quick: bool) -> dict:
    recipe = SummarizationRecipe(steps=20) if quick else SummarizationRecipe()
    model, tok = gc.load_course_model()
    model = model.cpu()  # CPU results are reproducible, and the model is small
    splits = summarization_splits(recipe.max_words)
    best_rule = max(rule_scores(splits["valid"]).items(), key=lambda kv: kv[1])[0]  # chosen on valid
    tuned, fit = fine_tune_summarizer(model, tok, splits["train"], recipe, progress=False)
    leads, titles = zip(*splits["test"])
    written = summarize(tuned, tok, leads, recipe)
    scores = mean_rouge(written, titles)
    rule_out = [RULES[best_rule](lead) for lead in leads]
    per_article = np.array([rouge_l(w, t).f1 for w, t in zip(written, titles)])
    return {
        "rouge_l": round(scores["rougeL"], 4),
        "rouge_l_standard_error": round(float(per_article.std(ddof=1) / np.sqrt(len(per_article))), 4),
        "rouge_1": round(scores["rouge1"], 4),
        "rouge_l_best_rule": round(mean_rouge(rule_out, titles)["rougeL"], 4),
        "best_rule": best_rule,
        "ratio_to_best_rule": round(scores["rougeL"] / mean_rouge(rule_out, titles)["rougeL"], 4),
        "exact_titles": int(sum(w == t for w, t in zip(written, titles))),
        "same_as_rule": int(sum(w == r for w, r in zip(written, rule_out))),
        "test_articles": len(titles),
        "final_train_loss": round(float(np.mean(fit.train_loss[-20:])), 4),
        "seeds": [recipe.seed],
        "config": recipe.config(),
        "split": "test: the 60 official WikiText-2 test articles (not in pretraining); rule chosen on valid",
        "examples": [{"lead": lead, "title": t, "model": w} for lead, t, w in list(zip(leads, titles, written))[:5]],
    }
