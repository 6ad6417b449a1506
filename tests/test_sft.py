"""Supervised fine-tuning for summaries: dropout during fine-tuning, the title task's data, rules and recipe."""
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gpt_course import GPT, GPTConfig
from gpt_course.evaluate import rouge_l
from gpt_course.finetune import (
    IGNORE_INDEX,
    build_sft_example,
    restore_dropout,
    set_dropout,
    train_sft,
)
from gpt_course.summarization_data import (
    PREFIX,
    RULES,
    SEP,
    SummarizationRecipe,
    augment,
    lead_title_pairs,
    made_up_name,
    name_parts,
    prompt_of,
    rule_scores,
    subject_rule,
    summarization_examples,
    summarization_splits,
)
from gpt_course.tokenizers import ByteTokenizer

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def tiny_gpt(seed=0, **overrides) -> GPT:
    torch.manual_seed(seed)
    cfg = dict(vocab_size=256, block_size=64, n_layer=2, n_head=2, n_embd=32, dropout=0.2)
    return GPT(GPTConfig(**{**cfg, **overrides})).eval()


# ----------------------------------------------------------------------------------------- dropout


def test_set_dropout_reaches_every_rate_and_restores_it():
    model = tiny_gpt()
    old = set_dropout(model, 0.0)
    rates = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    attn = [m.dropout for m in model.modules() if isinstance(getattr(m, "dropout", None), float)]
    assert rates and attn and set(rates + attn) == {0.0}
    model.train()  # with every rate 0, training mode computes exactly what evaluation mode does
    x = torch.randint(0, 256, (2, 10))
    torch.testing.assert_close(model(x)[0], model.eval()(x)[0])
    restore_dropout(old)
    assert {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)} == {0.2}
    with pytest.raises(ValueError, match="dropout"):
        set_dropout(model, 1.0)


def test_train_sft_dropout_is_used_while_training_and_put_back():
    tok = ByteTokenizer()
    examples = [build_sft_example(tok, "ab", " b", block_size=16)] * 4
    model = tiny_gpt()
    seen = []
    hook = model.transformer.h[0].register_forward_hook(
        lambda m, i, o: seen.append(model.transformer.drop.p) if m.training else None)
    train_sft(model, examples, steps=3, lr=1e-3, batch_size=2, dropout=0.0, progress=False)
    hook.remove()
    assert seen == [0.0] * 3 and model.transformer.drop.p == 0.2 and not model.training


def test_rehearsal_keeps_the_pretraining_text_while_fine_tuning():
    """Rehearsal windows are read and trained: with them a fine-tune keeps predicting the rehearsed text; the same
    fine-tune without them does not learn it; and a rehearsal that cannot be read is refused."""
    tok = ByteTokenizer()
    examples = [build_sft_example(tok, "q", " zz", block_size=16)] * 8
    text = torch.tensor(tok.encode("abcdefgh" * 64), dtype=torch.long)  # the "pretraining text": a cycle of 8

    def text_loss(rehearsal):
        model = tiny_gpt(dropout=0.0)
        train_sft(model, examples, steps=80, lr=1e-2, batch_size=4, progress=False, rehearsal=rehearsal,
                  rehearsal_rows=4, rehearsal_weight=1.0)
        x = text[:65]
        with torch.no_grad():
            return float(model(x[None, :-1], x[None, 1:])[1])

    with_rehearsal, without = text_loss(text), text_loss(None)
    assert with_rehearsal < 0.5 and without > 3.0  # the cycle learned only with rehearsal (log 256 = 5.5 nats)
    with pytest.raises(ValueError, match="rehearsal_rows"):
        train_sft(tiny_gpt(), examples, steps=1, progress=False, rehearsal=text, rehearsal_rows=0)


# ----------------------------------------------------------------------------------------- the title task

ARTICLES = (" = Robert Boulter = \n \n Robert Boulter is an English film , television and theatre actor . He had a "
            "guest role . \n \n = = Career = = \n \n In 2000 he acted . \n \n"
            " = The Ship = \n \n The Ship ( a boat ) was built in 1900 by many people in a town near the sea . \n")


def test_lead_title_pairs_take_the_first_sentence_and_cut_its_end():
    pairs = lead_title_pairs(ARTICLES, max_words=6)
    assert pairs == [("Robert Boulter is an English film", "Robert Boulter"), ("The Ship ( a boat )", "The Ship")]
    assert lead_title_pairs(ARTICLES, 100)[0][0] == "Robert Boulter is an English film , television and theatre actor ."
    with pytest.raises(ValueError, match="max_words"):
        lead_title_pairs(ARTICLES, 0)


def test_course_splits_are_disjoint_and_sized():
    splits = summarization_splits()
    assert {k: len(v) for k, v in splits.items()} == {"train": 54, "valid": 6, "test": 60}
    titles = [{t for _, t in v} for v in splits.values()]
    assert not (titles[0] & titles[2]) and not (titles[1] & titles[2])  # no test title is trained on
    assert all(len(lead.split()) <= SummarizationRecipe().max_words for v in splits.values() for lead, _ in v)


@pytest.mark.parametrize("lead, subject", [
    ("Robert Boulter is an English film", "Robert Boulter"),
    ("The Ise @-@ class battleships ( 伊勢型戦艦", "Ise @-@ class battleships"),
    ('" Kiss You " is a song', "Kiss You"),
    ("Hed PE , also known as", "Hed PE"),
    ("An ironclad was a steam", "ironclad"),
    ("No verb here at all", "No verb here at all"),
])
def test_subject_rule(lead, subject):
    assert subject_rule(lead) == subject


def test_rule_scores_are_rouge_l_means():
    pairs = [("Robert Boulter is an actor .", "Robert Boulter"), ("The big ship was old .", "Big ship")]
    scores = rule_scores(pairs)
    assert set(scores) == set(RULES)
    assert scores["first 2 words"] == pytest.approx((1.0 + rouge_l("The big", "Big ship").f1) / 2)
    assert scores["subject (words before the first verb)"] == pytest.approx(1.0)


def test_augment_replaces_the_title_in_lead_and_answer_alike():
    pairs = [("Robert Boulter is an actor .", "Robert Boulter"), ("An ironclad is a ship .", "Ironclad warship")]
    out = augment(pairs, copies=5, seed=1, text=" Alpha Beta Gamma went home and slept . ")
    assert out[0] == pairs[0] and out[-1] == pairs[1]  # the originals stay; a lead without its title is not varied
    assert len(out) == 2 + 5
    for lead, name in out[1:6]:
        assert lead == f"{name} is an actor ." and name.split()[0] in {"Alpha", "Beta", "Gamma"}
    assert out == augment(pairs, copies=5, seed=1, text=" Alpha Beta Gamma went home and slept . ")  # seeded


def test_made_up_names_are_made_of_every_kind_of_word_a_title_has():
    first, others = name_parts(" Robert 1933 USA A.H. 31B went of 's ˈlɛznər ( @-@ , . ")
    assert first == ["1933", "31B", "A.H.", "Robert", "USA"]  # capitals, years, acronyms: what a name starts with
    assert others == ["'s", "of", "went", "ˈlɛznər"]  # words with a letter; bare punctuation is never a name
    rng = random.Random(0)
    for _ in range(50):
        words = made_up_name(rng, first, others).split()
        assert 1 <= len(words) <= 4 and words[0] in first and set(words) <= set(first) | set(others)


def test_title_examples_train_only_the_title_and_its_end():
    tok = ByteTokenizer()
    recipe = SummarizationRecipe()
    (_, y), = summarization_examples(tok, [("Robert Boulter is an actor .", "Robert Boulter")], 128, recipe)
    prompt = prompt_of("Robert Boulter is an actor .")
    assert prompt == PREFIX + "Robert Boulter is an actor ." + SEP
    assert tok.decode(y[y != IGNORE_INDEX].tolist()) == " Robert Boulter\n"
    assert int((y == IGNORE_INDEX).sum()) == len(tok.encode(prompt)) - 1
    with pytest.raises(ValueError, match="max_words"):  # the source is never silently cut to make room
        summarization_examples(tok, [("word " * 40, "t")], 64, recipe)


def test_the_prefix_makes_the_leads_first_word_the_same_tokens_as_the_title():
    import gpt_course as gc

    tok = gc.load_course_model()[1]
    title = "Robert Boulter"
    in_prompt = tok.encode(prompt_of(f"{title} is an English actor ."))
    answer = tok.encode(" " + title)
    assert any(in_prompt[i:i + len(answer)] == answer for i in range(len(in_prompt)))
    assert tok.encode(title) != answer  # without the space, the first word is other tokens


@pytest.mark.slow
def test_finetune_benchmark_quick_summarization():
    out = subprocess.run([sys.executable, str(BENCH / "finetune.py"), "--quick", "--only", "summarization"],
                         capture_output=True, text=True, timeout=900, env={**os.environ, "GPT_COURSE_FAST": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)["summarization"]
    for key in ("rouge_l", "rouge_l_best_rule", "best_rule", "test_articles", "config", "seeds"):
        assert key in r, key
    assert 0.0 <= r["rouge_l"] <= 1.0 and 0.5 < r["rouge_l_best_rule"] < 1.0
    assert r["test_articles"] == 60 and r["best_rule"].startswith("subject")
    assert r["seeds"] == [0] and r["rouge_l_per_seed"] == [r["rouge_l"]]  # quick mode: the notebook's seed alone
    assert r["ratio_to_best_rule"] == pytest.approx(r["rouge_l"] / r["rouge_l_best_rule"], abs=1e-3)
