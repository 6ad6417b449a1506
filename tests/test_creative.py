"""Creative-writing data and measurements (notebook 17): speeches, scenes, couplets, rhymes, conditioning rates."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gpt_course as gc
from gpt_course import creative
from gpt_course.data import load_tinyshakespeare
from gpt_course.finetune import IGNORE_INDEX
from gpt_course.generate import generate_text

PLAY = "ROMEO:\nBut soft, what light\nthrough yonder window breaks?\n\nJULIET:\nAy me!\n\nNURSE:\n\nROMEO:\nShe speaks.\n"


@pytest.fixture(scope="module")
def speeches():
    return creative.parse_speeches(load_tinyshakespeare())


@pytest.fixture(scope="module")
def tok():
    return gc.load_course_model()[1]


def test_parse_speeches_skips_bare_tags():
    assert creative.parse_speeches(PLAY) == [("ROMEO", "But soft, what light\nthrough yonder window breaks?"),
                                             ("JULIET", "Ay me!"), ("ROMEO", "She speaks.")]


@pytest.mark.parametrize("speech, code", [("one", "short"), ("a\nb", "medium"), ("a\nb\nc\nd", "medium"),
                                          ("a\nb\nc\nd\ne", "long")])
def test_length_code(speech, code):
    assert creative.length_code(speech) == code
    assert creative.format_speech("X", speech) == f"X ({code}):\n{speech}\n\n"


def test_split_is_a_partition_by_runs(speeches):
    split = creative.split_speeches(speeches)
    assert sum(len(v) for v in split.values()) == len(speeches)
    assert len(split["valid"]) == len(split["test"]) == 700  # 35 runs of 20 each
    # whole runs: every held-out speech sits in a run of 20 consecutive speeches of the same split
    positions = {id(s): i for i, s in enumerate(speeches)}
    for name in ("valid", "test"):
        index = sorted(positions[id(s)] for s in split[name])
        assert all(i % 20 == 0 for i in index[::20])
    assert creative.split_speeches(speeches) == split  # seeded
    with pytest.raises(ValueError, match="held_out"):
        creative.split_speeches(speeches, held_out=0.6)


def test_scenes_fit_and_name_their_cast(speeches, tok):
    out = creative.scenes(speeches[:400], tok, 110)  # header included
    assert len(out) > 50
    for cast, text in out:
        assert len(tok.encode(creative.scene_header(cast) + text)) <= 110
        names = creative.speakers_in(text)
        assert names and list(dict.fromkeys(names)) == cast  # the cast: the speakers, in order of appearance
    # nothing invented: every first line of the scenes is a line of the play
    lines = set(load_tinyshakespeare().split("\n"))
    assert all(text.split("\n")[1] in lines for _, text in out)


def test_headers_write_names_as_speech_headers_do(tok):
    assert creative.scene_header(["ROMEO", "First Citizen"]) == "Scene:\nROMEO\nFirst Citizen\n\n"
    assert creative.scene_header(None) == creative.scene_header([]) == "Scene:\n\n"
    assert creative.couplet_header(("night", "light")) == "Couplet: night, light\n"
    # the requested name and rhyme word are the very tokens the answer must write: a copy, not a translation
    name = tok.encode("ROMEO (short):")[:5]
    assert tok.encode(creative.scene_header(["ROMEO"]))[-len(name) - 2:-2] == name
    assert tok.encode(" light")[0] in tok.encode(creative.couplet_header(("night", "light")))


def test_speakers_in_reads_headers_only():
    text = "ROMEO (long):\nWhat, ho!\nCome:\n\nKING RICHARD III:\nNow: what\n\n\nFirst Citizen (short):\nAy.\n"
    assert creative.speakers_in(text) == ["ROMEO", "KING RICHARD III", "First Citizen"]


@pytest.mark.parametrize("a, b, expected", [("night", "light", True), ("love", "prove", True), ("day", "away", True),
                                             ("grave", "have", True), ("bed", "fled", True), ("ended", "used", False),
                                             ("night", "day", False), ("light", "light", False),
                                             ("Light!", "night,", True), ("", "night", False)])
def test_rhymes_by_spelling(a, b, expected):
    assert creative.rhymes(a, b) is expected
    assert creative.rhymes(b, a) is expected


@pytest.mark.parametrize("line, n", [("But soft, what light through yonder window breaks?", 10),
                                     ("Now is the winter of our discontent", 10), ("the", 1), ("", 0),
                                     ("Ay me!", 2)])
def test_syllables(line, n):
    assert creative.syllables(line) == n


def test_find_couplets_rhyme_and_scan(speeches):
    couplets = creative.find_couplets(speeches)
    assert len(couplets) > 300
    for a, b in couplets:
        assert creative.rhymes(creative.last_word(a), creative.last_word(b))
        assert 8 <= creative.syllables(a) <= 12 and 8 <= creative.syllables(b) <= 12


def test_verse_line_pairs_rhymed_or_not(speeches):
    pairs = creative.find_couplets(speeches, rhymed=False)
    rhymed = creative.find_couplets(speeches)
    assert len(pairs) > 10 * len(rhymed)  # the plays' verse mostly does not rhyme
    assert 0 < sum(creative.rhymes(creative.last_word(a), creative.last_word(b)) for a, b in pairs) < len(pairs) / 10
    for a, b in pairs:
        assert 8 <= creative.syllables(a) <= 12 and 8 <= creative.syllables(b) <= 12
    speech = [("X", "one two three four five six seven eight\n" * 5)]  # five verse lines: two pairs, not reused
    assert len(creative.find_couplets(speech, rhymed=False)) == 2 and creative.find_couplets(speech) == []


def test_examples_mask_the_header(speeches, tok):
    recipe = creative.CreativeRecipe(p_request=1.0)
    examples, counts = creative.build_examples(speeches[:200], tok, recipe, 128)
    assert counts["examples"] == len(examples) == counts["scenes"] + counts["couplets"]
    assert counts["with_request"] == counts["examples"] and 0 <= counts["rhymed"] < counts["couplets"]
    bare_scenes = creative.build_examples(speeches[:200], tok, creative.CreativeRecipe(p_request=0.0), 128)[1]
    assert bare_scenes["with_request"] == bare_scenes["couplets"]  # every poem asks for its line ends
    rhymed_only = creative.build_examples(speeches[:200], tok, creative.CreativeRecipe(rhymed_only=True), 128)[1]
    assert rhymed_only["couplets"] == rhymed_only["rhymed"] == len(creative.find_couplets(speeches[:200]))
    for x, y in examples:
        assert x.numel() <= 128 and x.shape == y.shape
        text = tok.decode(x.tolist())
        assert text.startswith(("Scene:\n", "Couplet: "))
        header = text.split("\n\n", 1)[0] + "\n\n" if text.startswith("Scene") else text.split("\n", 1)[0] + "\n"
        header_tokens = len(tok.encode(header))
        assert (y[: header_tokens - 1] == IGNORE_INDEX).all() and (y[header_tokens:] != IGNORE_INDEX).all()
    with pytest.raises(ValueError, match="p_request"):
        creative.CreativeRecipe(p_request=1.5)


def test_wilson_interval():
    lo, hi = creative.wilson_interval(0, 120)
    assert lo == 0 and 0.02 < hi < 0.04
    lo, hi = creative.wilson_interval(60, 120)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(2 * 1.96 * (0.25 / 120) ** 0.5, rel=0.05)
    with pytest.raises(ValueError, match="n must be"):
        creative.wilson_interval(0, 0)


def test_measure_cast_counts_first_speaker(monkeypatch, tok):
    casts = [["ROMEO"], ["JULIET", "NURSE"], ["MENENIUS"]]
    asked = ["ROMEO (short):\nAy.\n\nJULIET (short):\nNo.", "NURSE (long):\nNow", "CORIOLANUS:\nHa!"]
    bare = ["JULIET (short):\nAy.", "JULIET (short):\nAy.", "no header at all"]
    calls = iter([asked, bare])
    monkeypatch.setattr(creative, "sample_many", lambda *a, **k: next(calls))
    r = creative.measure_cast(None, tok, casts)
    assert (r["conditioned"]["hits"], r["conditioned"]["n"]) == (2, 3)
    assert (r["unconditioned"]["hits"], r["unconditioned"]["n"]) == (1, 3)
    assert r["headers_in_cast_conditioned"] == pytest.approx(2 / 4)


def test_verse_stats():
    poems = [["The sun doth rise upon the eastern hill", "And all the birds are singing loud and shrill"],
             ["Short", "lines here", "and a third"]]
    s = creative.verse_stats(poems, rhyme_words=[("hill", "shrill"), ("night", "here")])
    assert s["two_lines"]["hits"] == 1 and s["rhyme"]["hits"] == 1
    assert s["requested_word"]["hits"] == 3 and s["requested_word"]["n"] == 4
    assert s["lines_in_range"]["hits"] == 2 and s["lines_in_range"]["n"] == 4


def test_sample_many_keeps_order_and_is_seeded(tok):
    model = gc.GPT(gc.GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=16))
    prompts = [creative.scene_header(["ROMEO"]), creative.scene_header(None), creative.couplet_header(None)]
    a = creative.sample_many(model, tok, prompts, 5, seed=3)
    assert a == creative.sample_many(model, tok, prompts, 5, seed=3) and len(a) == 3
    greedy = creative.sample_many(model, tok, prompts, 5, temperature=0, top_p=None)
    for p, text in zip(prompts, greedy):
        assert text == generate_text(model, tok, p, 5, temperature=0)


@pytest.mark.slow
def test_finetune_benchmark_quick():
    bench = Path(__file__).resolve().parent.parent / "benchmarks" / "finetune.py"
    out = subprocess.run([sys.executable, str(bench), "--quick", "--only", "creative"], check=False,
                         capture_output=True, text=True, timeout=900, env={**os.environ, "GPT_COURSE_FAST": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)["creative"]
    for key in ("conditioned_rate", "unconditioned_rate", "couplet_requested_word_rate", "couplet_rhyme_rate"):
        assert 0.0 <= r[key] <= 1.0
    assert r["conditioned"]["n"] == r["unconditioned"]["n"] == r["n_requests"] > 0
    lo, hi = r["conditioned"]["ci95"]
    assert lo <= r["conditioned_rate"] <= hi
    assert r["config"]["steps"] > 0 and r["seeds"] == [r["config"]["seed"]]
