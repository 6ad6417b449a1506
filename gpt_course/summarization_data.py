"""The summarization task of notebook 15: write a WikiText article's title from its lead sentence.

Every WikiText article starts with its title line, `` = Robert Boulter = ``, and a first paragraph whose first
sentence (the *lead*) says what the article is about. Writing the title from the lead is headline generation,
summarization at its shortest, and people wrote the references. The splits follow the course's WikiText split:
train = the course train articles (the text the model was pretrained on), valid = the course valid articles
(for choices), test = the official test articles (never seen in pretraining, scored once).

The skill to learn is to copy the lead's subject, so the training pairs are augmented: in every lead that
contains its title, the title is replaced by a made-up name, in the lead and in the answer, many times over.
A made-up name cannot be remembered, only copied.

    >>> splits = summarization_splits()              # {"train": [(lead, title), ...], "valid": ..., "test": ...}
    >>> model_s, history = fine_tune_summarizer(model, tok, splits["train"], SummarizationRecipe())
    >>> summarize(model_s, tok, [lead for lead, _ in splits["test"]], SummarizationRecipe())
"""
from __future__ import annotations

import copy
import random
import re
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch

from .checkpoint import History
from .data import load_wikitext2, split_articles
from .evaluate import mean_rouge
from .finetune import build_sft_example, format_example, train_sft
from .generate import generate_text
from .model import GPT
from .utils import pick

SPLITS = ("train", "valid", "test")
PREFIX = "Text: "  # a space before the lead's first word: it is then the same tokens as the title's first word
SEP = "\nTL;DR:"   # the separator GPT-2's authors used to ask for a summary (see notebook 15)
END = "\n"         # the summary ends at the end of its line


def lead_title_pairs(text: str, max_words: int) -> list[tuple[str, str]]:
    """(lead, title) for every article of a WikiText text: the lead is the first sentence of the first paragraph,
    cut to `max_words` words (the END of a long sentence is dropped, never its subject)."""
    if max_words < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words}")
    pairs = []
    for article in split_articles(text):
        lines = [line.strip() for line in article.split("\n") if line.strip()]
        if len(lines) < 2 or not lines[0].startswith("= "):
            raise ValueError(f"an article should start with a ' = Title = ' line and a paragraph, got {lines[:2]}")
        title, first_paragraph = lines[0].strip("= "), lines[1]
        lead = first_paragraph.split(" . ")[0].rstrip(" .") + " ."
        pairs.append((" ".join(lead.split()[:max_words]), title))
    return pairs


def summarization_splits(max_words: int = 12) -> dict[str, list[tuple[str, str]]]:
    """(lead, title) pairs of the course's WikiText splits: train, valid (for choices) and test (scored once)."""
    return {name: lead_title_pairs(load_wikitext2(name), max_words) for name in SPLITS}


# --------------------------------------------------------------------------------------------- rules to beat

_VERBS = (" is ", " was ", " are ", " were ", " has ", " had ", " ( ", " , ")


def subject_rule(lead: str) -> str:
    """The lead's subject: the words before its first verb (is, was, are, were, has, had), bracket or comma,
    without a leading article (The, A, An) or quotation marks."""
    text = lead + " "
    cut = min([text.find(v) for v in _VERBS if v in text] or [len(text)])
    return re.sub(r"^(The|A|An) ", "", text[:cut].strip()).strip(' "')


RULES: dict[str, Callable[[str], str]] = {
    **{f"first {k} word{'s' if k > 1 else ''}": (lambda lead, k=k: " ".join(lead.split()[:k])) for k in range(1, 6)},
    "subject (words before the first verb)": subject_rule,
}


def rule_scores(pairs: Sequence[tuple[str, str]]) -> dict[str, float]:
    """Mean ROUGE-L F1 of every rule in `RULES` on (lead, title) pairs."""
    titles = [title for _, title in pairs]
    return {name: mean_rouge([rule(lead) for lead, _ in pairs], titles)["rougeL"] for name, rule in RULES.items()}


# --------------------------------------------------------------------------------------------- augmentation


def name_parts(text: str) -> tuple[list[str], list[str]]:
    """Words to make names of: every distinct word of `text` that can start a name (a capital or a digit
    first: "Robert", "1933", "USA", "31B", "A.H."), and every other word with a letter in it ("class", "of",
    "'s", "ˈlɛznər"). Titles hold all of these, so the fine-tune practises copying all of them."""
    words = set(text.split())
    first = sorted(w for w in words if re.match(r"[A-Z0-9]", w))
    others = sorted(w for w in words if not re.match(r"[A-Z0-9]", w) and re.search(r"[^\W\d_]", w))
    return first, others


def made_up_name(rng: random.Random, first: Sequence[str], others: Sequence[str]) -> str:
    """1 to 4 words drawn at random (one that can start a name first, then mostly those): a name nobody can
    guess."""
    k = rng.choice([1, 2, 2, 3, 3, 4])
    return " ".join(rng.choice(first) if i == 0 or rng.random() < 0.75 else rng.choice(others) for i in range(k))


def augment(pairs: Sequence[tuple[str, str]], copies: int, seed: int = 0,
            text: str | None = None) -> list[tuple[str, str]]:
    """Every pair, then `copies` variants of each pair whose lead contains its title, the title replaced by a
    made-up name in the lead and in the answer. Names are made of the words of `text` (default: the course
    train split)."""
    if copies < 0:
        raise ValueError(f"copies must be 0 or more, got {copies}")
    first, others = name_parts(load_wikitext2("train") if text is None else text)
    rng = random.Random(seed)
    out = []
    for lead, title in pairs:
        out.append((lead, title))
        if title in lead:
            for _ in range(copies):
                name = made_up_name(rng, first, others)
                out.append((lead.replace(title, name), name))
    return out


# --------------------------------------------------------------------------------------------- the recipe


@dataclass(frozen=True)
class SummarizationRecipe:
    """How notebook 15 fine-tunes the course model to write titles (and the benchmark measures it)."""

    max_words: int = 12       # words of the lead the model reads (the subject comes first)
    copies: int = 300         # made-up-name variants per training lead that contains its title (most seen once)
    steps: int = 600
    lr: float = 2e-3
    batch_size: int = 16
    dropout: float = 0.0      # fine-tuning dropout (the checkpoint's 0.15 blurs the exact copying the task needs)
    max_new_tokens: int = 16  # longest title written
    seed: int = 0

    @classmethod
    def for_mode(cls) -> "SummarizationRecipe":
        """The learner-mode recipe, or a much shorter run in test mode (GPT_COURSE_FAST=1)."""
        return pick(cls(), cls(steps=20))

    def config(self) -> dict:
        return asdict(self)


def prompt_of(lead: str) -> str:
    """The prompt the model continues: `Text: <lead>\\nTL;DR:`."""
    return format_example(PREFIX + lead, "", sep=SEP, end=END)[0]


def summarization_examples(tokenizer, pairs: Sequence[tuple[str, str]], block_size: int, recipe: SummarizationRecipe,
                           mask_prompt: bool = True) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One (x, y) per pair: the prompt and ` <title>\\n`; the prompt's targets masked (-100) when `mask_prompt`.
    The prompt must leave room for `recipe.max_new_tokens`: the source is cut, never the summary."""
    out = []
    for lead, title in pairs:
        prompt, completion = format_example(PREFIX + lead, title, sep=SEP, end=END)
        n_prompt = len(tokenizer.encode(prompt))
        if n_prompt + recipe.max_new_tokens > block_size:
            raise ValueError(f"the prompt has {n_prompt} tokens: with {recipe.max_new_tokens} for the title it does "
                             f"not fit block_size={block_size}; lower max_words (now {recipe.max_words})")
        out.append(build_sft_example(tokenizer, prompt, completion, block_size, mask_prompt=mask_prompt))
    return out


def fine_tune_summarizer(model: GPT, tokenizer, train: Sequence[tuple[str, str]], recipe: SummarizationRecipe,
                         mask_prompt: bool = True, valid: Sequence[tuple[str, str]] | None = None,
                         progress: bool = True, desc: str = "fine-tuning") -> tuple[GPT, History]:
    """A fine-tuned copy of `model` and its `History`: the train pairs augmented (`augment`), every weight
    trained for `recipe.steps` batches; `valid` pairs (not augmented) give a held-out title loss during training.
    The original model is left as it was."""
    block = model.config.block_size
    examples = summarization_examples(tokenizer, augment(train, recipe.copies, recipe.seed), block, recipe,
                                      mask_prompt)
    valid_examples = None if valid is None else summarization_examples(tokenizer, valid, block, recipe)
    tuned = copy.deepcopy(model)
    torch.manual_seed(recipe.seed)  # dropout, if any
    history = train_sft(tuned, examples, steps=recipe.steps, lr=recipe.lr, batch_size=recipe.batch_size,
                        valid=valid_examples, eval_interval=max(1, recipe.steps // 6), seed=recipe.seed,
                        dropout=recipe.dropout, progress=progress, desc=desc)
    return tuned, history


def summarize(model: GPT, tokenizer, leads: Sequence[str], recipe: SummarizationRecipe) -> list[str]:
    """The title the model writes for each lead: greedy decoding, stopped at the end of the line."""
    return [generate_text(model, tokenizer, prompt_of(lead), recipe.max_new_tokens, stop=END, temperature=0.0,
                          fit_window=True).strip() for lead in leads]
