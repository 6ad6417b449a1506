"""Notebook 17's figures: does a requested cast / rhyme-word pair appear in what the fine-tuned model writes?

The course model is fine-tuned with `gpt_course.creative.CreativeRecipe` (the notebook's recipe) on the scenes
and rhymed couplets of the training plays, then asked for the casts and rhyme words of the test split, with the
request in the header and without it (a bare header), N_REQUESTS times each.
"""
from __future__ import annotations

import gpt_course as gc
from gpt_course import creative
from gpt_course.data import load_tinyshakespeare


def _rate(r: dict) -> dict:
    return {"rate": round(r["rate"], 4), "hits": r["hits"], "n": r["n"], "ci95": [round(x, 4) for x in r["ci95"]]}


def measure(quick: bool) -> dict:
    gc.seed_everything(0)
    recipe = creative.CreativeRecipe(steps=8) if quick else creative.CreativeRecipe()
    n = 24 if quick else creative.N_REQUESTS
    speeches = creative.split_speeches(creative.parse_speeches(load_tinyshakespeare()))
    model, tok = gc.load_course_model()
    block = model.config.block_size
    train, counts = creative.build_examples(speeches["train"], tok, recipe, block)
    valid = creative.build_examples(speeches["valid"], tok, recipe, block, seed=recipe.seed + 1)[0]
    history = creative.finetune_creative(model, tok, speeches, recipe, progress=False, examples=(train, valid))
    result = creative.evaluate_creative(model, tok, speeches["test"], recipe, n=n)
    cast, couplet = result["cast"], result["couplet"]
    asked, bare = couplet["conditioned"], couplet["unconditioned"]
    return {
        "conditioned_rate": round(cast["conditioned"]["rate"], 4),
        "unconditioned_rate": round(cast["unconditioned"]["rate"], 4),
        "conditioned": _rate(cast["conditioned"]),
        "unconditioned": _rate(cast["unconditioned"]),
        "what": "share of scenes whose first speaker is one of the requested cast (test-split casts), with the "
                "cast in the header vs a bare 'Scene:' header",
        "couplet_requested_word_rate": round(asked["requested_word"]["rate"], 4),
        "couplet_requested_word_rate_unconditioned": round(bare["requested_word"]["rate"], 4),
        "couplet_rhyme_rate": round(asked["rhyme"]["rate"], 4),
        "couplet_rhyme_rate_unconditioned": round(bare["rhyme"]["rate"], 4),
        "couplet_lines_in_range": round(asked["lines_in_range"]["rate"], 4),
        "couplet_lines_in_range_unconditioned": round(bare["lines_in_range"]["rate"], 4),
        "couplet_two_lines": round(asked["two_lines"]["rate"], 4),
        "couplet": {"conditioned": {k: _rate(v) for k, v in asked.items() if isinstance(v, dict)},
                    "unconditioned": {k: _rate(v) for k, v in bare.items() if isinstance(v, dict)}},
        "n_requests": n, "distinct_casts": result["distinct_casts"],
        "distinct_rhyme_pairs": result["distinct_rhyme_pairs"],
        "n_test_speeches": len(speeches["test"]),
        "valid_loss": round(history.val_loss[-1], 4),
        "training": counts,
        "config": recipe.to_dict(),
        "sampling": creative.SAMPLING,
        "seeds": [recipe.seed],
    }
