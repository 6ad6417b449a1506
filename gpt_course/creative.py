"""Creative writing with the course model: Shakespeare's plays as conditioned training examples, and the
measurements that say whether the conditioning works.

Two formats, each a header (the request) followed by the text:

* a **scene**: ``"Scene:\\nROMEO\\nJULIET\\n\\n"`` then consecutive speeches ``"ROMEO (short):\\n...\\n\\n"``; the
  header lists the speakers of the scene (the *cast*), one a line as the speech headers write them (so that a
  name is the same tokens in both places), or is a bare ``"Scene:"`` for a fraction of the examples, so that
  the same model can write with and without a requested cast;
* a **couplet** (a poem form: two lines of verse that rhyme): ``"Couplet: night, light\\n"`` then the two
  lines, whose last words are the requested words (each after a space, as at a line's end), the old game of
  *bouts-rimés*. The model is trained on every pair of consecutive verse lines with their own last words as the
  request (the plays hold few rhymed couplets), so it learns to end lines with the words asked for; asked for
  two words that rhyme, it writes a rhymed couplet.

Rhymes and syllables are judged by spelling (no pronunciation dictionary ships with the course): two words
rhyme when they differ and share their last vowel and everything after it ("night" / "light",
"love" / "prove"); syllables are groups of vowels. Both are approximations, the same for every text measured.
"""
from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from .evaluate import wilson_interval

Speech = tuple[str, str]  # (speaker, speech)

SCENE = "Scene:"
SAMPLING = {"temperature": 0.8, "top_p": 0.95}  # notebook 17's sampling settings (its section on sampling)
N_REQUESTS = 120  # held-out requests per measurement: casts, and rhyme-word pairs
COUPLET = "Couplet"
_HEADER = re.compile(r"^([A-Z][A-Za-z' ]*[A-Za-z])(?: \((?:short|medium|long)\))?:$")


# ------------------------------------------------------------------------------------------------ the plays


def parse_speeches(text: str) -> list[Speech]:
    """Blocks ``'SPEAKER:\\nline\\nline'`` separated by blank lines -> [(speaker, speech), ...]; blocks without a
    speech (a bare speaker tag) are skipped."""
    out = []
    for block in text.split("\n\n"):
        head, _, body = block.strip("\n").partition("\n")
        if head.endswith(":") and body.strip():
            out.append((head[:-1], body.strip("\n")))
    return out


def length_code(speech: str) -> str:
    """The length control code of a speech: short (one line), medium (2-4 lines), long (5 lines or more)."""
    n_lines = speech.count("\n") + 1
    return "short" if n_lines == 1 else "medium" if n_lines <= 4 else "long"


def format_speech(speaker: str, speech: str) -> str:
    """``'SPEAKER (code):\\nspeech\\n\\n'``: the speech header carries the speaker and the length code."""
    return f"{speaker} ({length_code(speech)}):\n{speech}\n\n"


def split_speeches(speeches: Sequence[Speech], run: int = 20, held_out: float = 0.1,
                   seed: int = 0) -> dict[str, list[Speech]]:
    """Train / valid / test split by position: the speeches cut into runs of `run` consecutive speeches, and
    a random `held_out` share of the runs (seeded) each for validation and for test, so that held-out text
    keeps real dialogue and comes from every play."""
    if not 0 < held_out < 0.5:
        raise ValueError(f"held_out={held_out} must be a share between 0 and 0.5 (one for valid, one for test)")
    runs = [list(speeches[i:i + run]) for i in range(0, len(speeches), run)]
    k = max(1, int(len(runs) * held_out))
    chosen = random.Random(seed).sample(range(len(runs)), k=2 * k)
    valid, test = set(chosen[:k]), set(chosen[k:])
    return {"train": [s for i, r in enumerate(runs) if i not in valid | test for s in r],
            "valid": [s for i, r in enumerate(runs) if i in valid for s in r],
            "test": [s for i, r in enumerate(runs) if i in test for s in r]}


def speakers_in(text: str) -> list[str]:
    """The speakers of the speech headers in a text, in order: the first line of each block (the text's start or
    after a blank line) that reads ``'ROMEO (long):'`` or ``'ROMEO:'``."""
    heads = (block.strip("\n").split("\n", 1)[0].strip() for block in text.split("\n\n"))
    return [m.group(1) for head in heads if (m := _HEADER.match(head))]


# ------------------------------------------------------------------------------------------------ scenes


def scene_header(cast: Sequence[str] | None) -> str:
    """The request of a scene: ``'Scene:\\nA\\nB\\n\\n'`` (a name a line, as a speech header writes it), or
    ``'Scene:\\n\\n'`` for no requested cast."""
    return f"{SCENE}\n" + "".join(f"{name}\n" for name in cast or ()) + "\n"


def scenes(speeches: Sequence[Speech], tokenizer, max_tokens: int) -> list[tuple[list[str], str]]:
    """Cut consecutive speeches into scenes that fit, with their header, in `max_tokens` tokens: (cast, text)
    pairs, the cast being the scene's speakers in order of first appearance. A speech that does not fit whole
    ends its scene with the lines that still fit (a scene holds at least one line); the rest of it is dropped."""
    def n_tokens(cast, text) -> int:
        return len(tokenizer.encode(scene_header(cast) + text))

    out, cast, text = [], [], ""
    for speaker, speech in speeches:
        new_cast = cast + ([speaker] if speaker not in cast else [])
        block = format_speech(speaker, speech)
        if n_tokens(new_cast, text + block) <= max_tokens:
            cast, text = new_cast, text + block
            continue
        head, lines, kept = f"{speaker} ({length_code(speech)}):\n", speech.split("\n"), 0
        while kept < len(lines) and n_tokens(new_cast, text + head + "\n".join(lines[:kept + 1]) + "\n") <= max_tokens:
            kept += 1
        if kept:
            cast, text = new_cast, text + head + "\n".join(lines[:kept]) + "\n"
        if text:
            out.append((cast, text))
        cast, text = [], ""
    if text:
        out.append((cast, text))
    return out


# ------------------------------------------------------------------------------------------------ verse


def _letters(word: str) -> str:
    return re.sub(r"[^a-z]", "", word.lower())


def last_word(line: str) -> str:
    """The last word of a line, lower case, letters only (``'light?'`` -> ``'light'``)."""
    words = [w for w in (_letters(w) for w in line.split()) if w]
    return words[-1] if words else ""


def rhyme_key(word: str) -> str:
    """The spelling of a word from its last vowel on: ``'night'`` -> ``'ight'``, ``'love'`` -> ``'ove'``,
    ``'day'`` -> ``'ay'``. A final silent e is passed over when looking for the vowel; y counts as a vowel
    only in a word with no other vowel ("my")."""
    w = _letters(word)
    if not w:
        return ""
    body = w[:-1] if len(w) > 2 and w.endswith("e") and w[-2] not in "aeiou" else w
    vowels = "aeiou" if re.search("[aeiou]", body) else "aeiouy"
    i = max((body.rfind(v) for v in vowels), default=-1)
    if i < 0:
        return w
    while i > 0 and body[i - 1] in vowels:  # the whole last vowel group: "ai" of "rain"
        i -= 1
    if w[i:] == "ed" and i > 0:  # a past tense ("ended", "used"): the rhyme starts at the vowel before
        return rhyme_key(w[:i]) + "ed" if re.search(f"[{vowels}]", w[:i]) else "ed"
    return w[i:]


def rhymes(a: str, b: str) -> bool:
    """Two different words that rhyme by spelling (the same `rhyme_key`)."""
    a, b = _letters(a), _letters(b)
    return bool(a and b and a != b and rhyme_key(a) == rhyme_key(b))


def syllables(line: str) -> int:
    """Syllables of a line, counted as vowel groups per word (a final silent e not counted, at least one per
    word)."""
    total = 0
    for word in (_letters(w) for w in line.split()):
        if not word:
            continue
        n = len(re.findall(r"[aeiouy]+", word))
        if word.endswith("e") and not word.endswith(("le", "ee")) and n > 1:
            n -= 1
        total += max(1, n)
    return total


def find_couplets(speeches: Sequence[Speech], min_syllables: int = 8, max_syllables: int = 12,
                  rhymed: bool = True) -> list[tuple[str, str]]:
    """Pairs of consecutive lines inside one speech, both verse-length (`min_syllables` to `max_syllables`,
    blank verse having ten), that rhyme: the rhymed couplets of the plays. With `rhymed=False`, every such pair
    of verse lines, rhymed or not (the plays' blank verse mostly does not rhyme). Lines are not reused."""
    out = []
    for _, speech in speeches:
        lines = [ln.strip() for ln in speech.split("\n")]
        i = 0
        while i + 1 < len(lines):
            a, b = lines[i], lines[i + 1]
            ends = rhymes(last_word(a), last_word(b)) if rhymed else bool(last_word(a) and last_word(b))
            if ends and all(min_syllables <= syllables(x) <= max_syllables for x in (a, b)):
                out.append((a, b))
                i += 2
            else:
                i += 1
    return out


def couplet_header(rhyme_words: tuple[str, str] | None) -> str:
    """The request line of a couplet: ``'Couplet: night, light\\n'``, or ``'Couplet:\\n'``."""
    return f"{COUPLET}: {rhyme_words[0]}, {rhyme_words[1]}\n" if rhyme_words else f"{COUPLET}:\n"


def couplet_lines(continuation: str) -> list[str]:
    """The lines of the poem in a continuation: the non-empty lines before the first blank line."""
    return [ln.strip() for ln in continuation.split("\n\n")[0].strip("\n").split("\n") if ln.strip()]


# ------------------------------------------------------------------------------------------------ the recipe


@dataclass(frozen=True)
class CreativeRecipe:
    """Notebook 17's fine-tune: scenes and two-line poems of the training plays, headers with a request for most
    of them (`p_request`), trained as supervised examples (the header masked) from the course model.

    The poems are every pair of consecutive verse lines, each headed by its two last words (``Couplet: a, b``),
    rhymed or not (`rhymed_only=False`): the skill a requested rhyme needs, ending each line with the word asked
    for, is then practised on some 6,000 pairs instead of the plays' 300 rhymed couplets. A rhyme is asked for by
    asking for two words that rhyme. Every poem carries its request (`p_request` is the scenes' share); what the
    model writes after a bare ``Couplet:`` header, which it never trained on, is the baseline: two lines whose
    ends it was not told. These choices and the 200 steps were made on the validation split."""
    steps: int = 200
    lr: float = 3e-3
    batch_size: int = 32
    p_request: float = 0.75   # share of the scenes whose header names the cast
    rhymed_only: bool = False  # poems: the rhymed couplets only, or every pair of consecutive verse lines
    scene_tokens: int = 64    # longest scene with its header, in tokens: short scenes put more speech headers
    #                           (where a name is chosen) into each step; chosen on the validation split
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.p_request <= 1:
            raise ValueError(f"p_request={self.p_request} must be a probability between 0 and 1")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be at least 1")

    def to_dict(self) -> dict:
        return asdict(self)


def build_examples(speeches: Sequence[Speech], tokenizer, recipe: CreativeRecipe, block_size: int,
                   seed: int | None = None) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], dict]:
    """SFT examples (x, y) of the scenes and two-line poems of `speeches` (see `CreativeRecipe`), with a request
    in the header for a share `recipe.p_request` of them; returns the examples and their counts (`rhymed`: the
    poems whose two lines rhyme)."""
    from .finetune import build_sft_example

    rng = random.Random(recipe.seed if seed is None else seed)
    examples, n_request = [], 0
    scene_list = scenes(speeches, tokenizer, recipe.scene_tokens)
    for cast, text in scene_list:
        ask = rng.random() < recipe.p_request
        n_request += ask
        examples.append(build_sft_example(tokenizer, scene_header(cast if ask else None), text, block_size))
    couplets = find_couplets(speeches, rhymed=recipe.rhymed_only)
    for a, b in couplets:  # every poem asks for its words: practice in ending lines on them
        examples.append(build_sft_example(tokenizer, couplet_header((last_word(a), last_word(b))), f"{a}\n{b}\n\n",
                                          block_size))
    rng.shuffle(examples)
    return examples, {"scenes": len(scene_list), "couplets": len(couplets),
                      "rhymed": sum(rhymes(last_word(a), last_word(b)) for a, b in couplets),
                      "examples": len(examples), "with_request": n_request + len(couplets)}


def finetune_creative(model, tokenizer, speeches: dict[str, list[Speech]], recipe: CreativeRecipe,
                      progress: bool = True, examples: tuple[list, list] | None = None):
    """Fine-tune `model` (in place) on the examples of the train speeches with the recipe, the validation loss
    being that of the valid speeches' examples; `examples` = (train, valid), when already built with
    `build_examples`, saves building them again. Returns the training history."""
    from .finetune import train_sft

    if examples is None:
        block = model.config.block_size
        examples = (build_examples(speeches["train"], tokenizer, recipe, block)[0],
                    build_examples(speeches["valid"], tokenizer, recipe, block, seed=recipe.seed + 1)[0])
    train, valid = examples
    return train_sft(model, train, recipe.steps, lr=recipe.lr, batch_size=recipe.batch_size, valid=valid,
                     seed=recipe.seed, progress=progress, desc="fine-tuning")


# ------------------------------------------------------------------------------------------------ measuring


def rate(hits: Sequence[bool]) -> dict:
    """{'rate', 'hits', 'n', 'ci95'} of a list of yes/no outcomes."""
    n, k = len(hits), int(sum(hits))
    lo, hi = wilson_interval(k, n)
    return {"rate": k / n, "hits": k, "n": n, "ci95": [lo, hi]}


def sample_many(model, tokenizer, prompts: Sequence[str], max_new_tokens: int, seed: int = 0,
                temperature: float = SAMPLING["temperature"], top_p: float | None = SAMPLING["top_p"]) -> list[str]:
    """One continuation per prompt, prompts of the same length in token ids generated side by side (one batch,
    the KV cache), in a seeded order; returns the continuations in the order of `prompts`."""
    from .generate import generate

    ids = [tokenizer.encode(p) for p in prompts]
    by_length: dict[int, list[int]] = {}
    for i, x in enumerate(ids):
        by_length.setdefault(len(x), []).append(i)
    out: list[str] = [""] * len(prompts)
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    for length in sorted(by_length):
        index = by_length[length]
        idx = torch.tensor([ids[i] for i in index], dtype=torch.long, device=device)
        rows = generate(model, idx, max_new_tokens, temperature=temperature, top_p=top_p, generator=gen)
        for i, row in zip(index, rows):
            out[i] = tokenizer.decode(row[length:].tolist())
    return out


def cast_requests(speeches: Sequence[Speech], tokenizer, max_tokens: int, n: int, seed: int = 0) -> list[list[str]]:
    """Casts to request: those of the scenes of held-out `speeches` (one or two speakers, the first two of a
    scene), `n` of them in a seeded order (repeated in turn when there are fewer scenes)."""
    casts = [cast[:2] for cast, _ in scenes(speeches, tokenizer, max_tokens)]
    random.Random(seed).shuffle(casts)
    return [casts[i % len(casts)] for i in range(n)]


def measure_cast(model, tokenizer, casts: Sequence[Sequence[str]], max_new_tokens: int = 48,
                 seed: int = 0) -> dict:
    """For each requested cast, a scene written with the cast in the header and one with a bare header: a hit
    when the first speaker the model writes is one of the requested ones. Returns both rates with intervals,
    the share of speech headers naming a requested speaker, and a few examples."""
    asked = sample_many(model, tokenizer, [scene_header(c) for c in casts], max_new_tokens, seed)
    bare = sample_many(model, tokenizer, [scene_header(None)] * len(casts), max_new_tokens, seed + 1)

    def first_in_cast(text: str, cast) -> bool:
        names = speakers_in(text)
        return bool(names) and names[0] in cast

    def share_in_cast(texts) -> float:
        pairs = [(name in cast) for text, cast in zip(texts, casts) for name in speakers_in(text)]
        return sum(pairs) / max(1, len(pairs))

    return {"conditioned": rate([first_in_cast(t, c) for t, c in zip(asked, casts)]),
            "unconditioned": rate([first_in_cast(t, c) for t, c in zip(bare, casts)]),
            "headers_in_cast_conditioned": share_in_cast(asked),
            "headers_in_cast_unconditioned": share_in_cast(bare),
            "examples": [(list(c), t) for c, t in list(zip(casts, asked))[:3]]}


def verse_stats(poems: Sequence[Sequence[str]], rhyme_words: Sequence[tuple[str, str]] | None = None,
                min_syllables: int = 8, max_syllables: int = 12) -> dict:
    """Form of two-line poems: share with exactly two lines, share of lines of verse length, share of poems
    whose two first lines rhyme, and (with `rhyme_words`) the share of lines ending in the requested word."""
    lines = [ln for p in poems for ln in p[:2]]
    out = {"n": len(poems),
           "two_lines": rate([len(p) == 2 for p in poems]),
           "lines_in_range": rate([min_syllables <= syllables(ln) <= max_syllables for ln in lines]),
           "mean_syllables": sum(syllables(ln) for ln in lines) / max(1, len(lines)),
           "rhyme": rate([len(p) >= 2 and rhymes(last_word(p[0]), last_word(p[1])) for p in poems])}
    if rhyme_words is not None:
        out["requested_word"] = rate([len(p) > k and last_word(p[k]) == words[k]
                                      for p, words in zip(poems, rhyme_words) for k in (0, 1)])
    return out


def measure_couplets(model, tokenizer, rhyme_words: Sequence[tuple[str, str]], max_new_tokens: int = 40,
                     seed: int = 0) -> dict:
    """Couplets written with the rhyme words requested and with a bare ``Couplet:`` header, their form measured
    by `verse_stats` (the bare ones checked against the same words, which they were not asked for)."""
    asked = sample_many(model, tokenizer, [couplet_header(w) for w in rhyme_words], max_new_tokens, seed)
    bare = sample_many(model, tokenizer, [couplet_header(None)] * len(rhyme_words), max_new_tokens, seed + 1)
    asked_poems, bare_poems = [couplet_lines(t) for t in asked], [couplet_lines(t) for t in bare]
    return {"conditioned": verse_stats(asked_poems, rhyme_words), "unconditioned": verse_stats(bare_poems, rhyme_words),
            "examples": [(list(w), p) for w, p in list(zip(rhyme_words, asked_poems))[:3]]}


def couplet_requests(speeches: Sequence[Speech], n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Rhyme-word pairs to request: those of the rhymed couplets of held-out `speeches`, `n` of them in a seeded
    order (each repeated in turn when there are fewer than `n`)."""
    pairs = [(last_word(a), last_word(b)) for a, b in find_couplets(speeches)]
    if not pairs:
        raise ValueError("no rhymed couplet in these speeches: give more text")
    random.Random(seed).shuffle(pairs)
    return [pairs[i % len(pairs)] for i in range(n)]  # each pair as often as the others (+-1)


def evaluate_creative(model, tokenizer, speeches: Sequence[Speech], recipe: CreativeRecipe,
                      n: int = N_REQUESTS, seed: int = 0) -> dict:
    """Both conditioning measurements on `speeches` (held-out ones): `n` requested casts (`measure_cast`) and
    `n` requested rhyme-word pairs (`measure_couplets`)."""
    casts = cast_requests(speeches, tokenizer, recipe.scene_tokens, n, seed)
    words = couplet_requests(speeches, n, seed)
    return {"cast": measure_cast(model, tokenizer, casts, seed=seed),
            "couplet": measure_couplets(model, tokenizer, words, seed=seed),
            "distinct_casts": len({tuple(c) for c in casts}), "distinct_rhyme_pairs": len(set(words))}
