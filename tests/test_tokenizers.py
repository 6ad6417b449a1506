"""Tokenizers: exact round trips on any Unicode text, learner-friendly errors, JSON save/load, BPE vs Hugging Face."""

import json
import re
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gpt_course import data
from gpt_course.tokenizers import (
    _RE_SPLIT_PATTERN,
    GPT2_SPLIT_PATTERN,
    HAVE_REGEX,
    BPETokenizer,
    ByteTokenizer,
    CharTokenizer,
    HFBPETokenizer,
    Tokenizer,
    load_tokenizer,
    printable_bytes,
    tokenizer_from_dict,
)

if HAVE_REGEX:
    import regex

TRICKY = [
    "",
    "hello world",
    "深度学习的模型很大。",
    "👍🏽 family: 👨‍👩‍👧 ✨",
    "e\u0301 n\u0303 a\u0308\u0304",  # combining marks
    "a\x00b\x00",
    "\n",
    "\r\n",
    "   leading and trailing   ",
    "tab\there\x0bvt\x0cff",
    "it's they'll we've I'd",
    "1 @,@ 000 and 3 @.@ 5 , north @-@ west",
    "\u00a0\u2028\u3000 unicode spaces",
    "\ufeff\uffff\U0010ffff",
]
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120)
WORDY_TEXT = st.text(alphabet=st.sampled_from(list("the and of, @.-'\n\t") + ["é", "中", "🙂"]), max_size=300)


@pytest.fixture(scope="module")
def train_text():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GPT_COURSE_OFFLINE", "1")
        return data.load_wikitext2("train")


@pytest.fixture(scope="module")
def tokenizers(train_text):
    small = train_text[:60_000] + "".join(TRICKY)
    return {
        "char": CharTokenizer.from_text(small),
        "byte": ByteTokenizer(),
        "bpe": BPETokenizer.train(small, 400),
        "hf_bpe": HFBPETokenizer.train(small, 400),
    }


# --- round trips ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["byte", "bpe", "hf_bpe"])
@settings(max_examples=150, deadline=None)
@given(s=st.one_of(ANY_TEXT, WORDY_TEXT))
def test_decode_encode_is_identity_on_any_unicode(tokenizers, name, s):
    tok = tokenizers[name]
    ids = tok.encode(s)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == s


@pytest.mark.parametrize("name", ["byte", "bpe", "hf_bpe"])
@pytest.mark.parametrize("s", TRICKY)
def test_round_trip_on_tricky_strings(tokenizers, name, s):
    tok = tokenizers[name]
    assert tok.decode(tok.encode(s)) == s


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_char_round_trip_within_vocabulary(tokenizers, data):
    tok = tokenizers["char"]
    s = data.draw(st.text(alphabet=st.sampled_from(tok.chars), max_size=200))
    assert tok.decode(tok.encode(s)) == s


def test_bpe_compresses_and_encodes_like_training(tokenizers, train_text):
    tok = tokenizers["bpe"]
    sample = train_text[:20_000]
    assert len(tok.encode(sample)) < 0.7 * len(sample.encode("utf-8"))
    first = tok.encode(sample)  # fills the chunk cache
    assert tok._cache and tok.encode(sample) == first == reference_encode(sample, tok.merges)


# --- CharTokenizer ----------------------------------------------------------------------------
def test_char_vocabulary_is_sorted_set_of_characters():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == sorted(set("hello world"))
    assert tok.vocab_size == len(tok) == 8
    assert tok.encode("hello") == [tok.chars.index(c) for c in "hello"]


def test_char_unknown_character_error_names_character_position_and_fix():
    tok = CharTokenizer.from_text("abc ")
    with pytest.raises(ValueError) as err:
        tok.encode("cab é")
    msg = str(err.value)
    assert "'é'" in msg and "U+00E9" in msg and "position 4" in msg
    assert "from_text" in msg and "unk=" in msg


def test_char_declared_unk_policy():
    tok = CharTokenizer.from_text("abc ", unk=" ")
    assert tok.decode(tok.encode("aé—b")) == "a  b"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        CharTokenizer.from_text("abc", unk="?")
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer.from_text("")


# --- ByteTokenizer ----------------------------------------------------------------------------
def test_byte_tokenizer_is_utf8_and_replaces_cut_characters():
    tok = ByteTokenizer()
    assert tok.vocab_size == 256
    assert tok.encode("é") == [0xC3, 0xA9]
    assert tok.decode(tok.encode("é")[:1]) == "\ufffd"  # generation stopped inside a character


# --- BPE from scratch -------------------------------------------------------------------------
def test_bpe_classic_example_and_tie_break():
    # "aaabdaaabac": aa is most frequent; then ab and (aa)a tie at 2 and the lower ids (a, b) win
    tok = BPETokenizer.train("aaabdaaabac", 259)
    assert tok.merges == [(97, 97), (97, 98), (256, 257)]
    assert tok.token_bytes(258) == b"aaab"
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert BPETokenizer.train("abcd", 257).merges == [(97, 98)]  # all pairs tie: lowest ids first


def test_bpe_merge_history_is_readable():
    tok = BPETokenizer.train("the the the", 258)
    assert tok.merge_history[0] == "'h' + 'e' -> 'he'"  # h-e and t-h tie at 3; (104, 101) < (116, 104)
    assert tok.merge_history[1] == "'t' + 'he' -> 'the'"
    assert tok.token_str(258 - 1) == "the"


def test_bpe_vocab_size_checks():
    with pytest.raises(ValueError, match="at least 256"):
        BPETokenizer.train("abc", 100)
    with pytest.raises(ValueError, match="at least 256"):
        HFBPETokenizer.train("abc", 100)
    tok = BPETokenizer.train("abc", 256)
    assert tok.merges == [] and tok.encode("abc") == [97, 98, 99]
    assert BPETokenizer.train("ab", 1000).vocab_size == 257  # stops when no pair is left to merge


def test_bpe_verbose_prints_merges(capsys):
    BPETokenizer.train("the the the", 258, verbose=True)
    out = capsys.readouterr().out
    assert "'h' + 'e' -> 'he'" in out and "count 3" in out


@settings(max_examples=200, deadline=None)
@given(s=st.one_of(ANY_TEXT, WORDY_TEXT))
def test_split_patterns_cover_every_character(s):
    """Pre-splitting never drops a character, with `regex` (GPT-2's pattern) or the plain `re` fallback."""
    assert "".join(re.findall(_RE_SPLIT_PATTERN, s)) == s
    if HAVE_REGEX:
        assert "".join(regex.findall(GPT2_SPLIT_PATTERN, s)) == s


@pytest.mark.skipif(not HAVE_REGEX, reason="compares against the `regex` module")
def test_re_fallback_splits_english_like_gpt2(train_text):
    assert re.findall(_RE_SPLIT_PATTERN, train_text) == regex.findall(GPT2_SPLIT_PATTERN, train_text)


def test_printable_bytes_escapes_what_is_not_text():
    assert printable_bytes("中".encode()) == "中"
    assert printable_bytes("中".encode()[:2]) == "\\xe4\\xb8"
    assert printable_bytes(b" a\n\t\\") == " a\\n\\t\\\\"


# --- an independent reference BPE (minbpe style): recount every pair after every merge -------------
def reference_chunks(text: str) -> list[list[int]]:
    """The UTF-8 bytes of each piece of GPT-2's pre-tokenization (the pattern written out here, not imported)."""
    pattern = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    return [list(piece.encode("utf-8")) for piece in regex.findall(pattern, text)]


def reference_merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out, i = [], 0
    while i < len(ids):
        if tuple(ids[i : i + 2]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def reference_pair_counts(chunks: list[list[int]]) -> Counter:
    return Counter(pair for ids in chunks for pair in zip(ids, ids[1:]))


def reference_train(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """Merge the most frequent adjacent pair, ties to the smallest (left id, right id), until vocab_size."""
    chunks, merges = reference_chunks(text), []
    for new_id in range(256, vocab_size):
        counts = reference_pair_counts(chunks)
        if not counts:
            break
        pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
        merges.append(pair)
        chunks = [reference_merge(ids, pair, new_id) for ids in chunks]
    return merges


def reference_encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """In each piece, apply the earliest-learned merge present, again and again (GPT-2's encoder)."""
    rank = {pair: k for k, pair in enumerate(merges)}
    out = []
    for ids in reference_chunks(text):
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, len(rank)))
            if pair not in rank:
                break
            ids = reference_merge(ids, pair, 256 + rank[pair])
        out += ids
    return out


@pytest.fixture(scope="module")
def wikitext_valid() -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GPT_COURSE_OFFLINE", "1")
        return data.load_wikitext2("valid")


@pytest.mark.skipif(not HAVE_REGEX, reason="the reference splits with the `regex` module")
@pytest.mark.parametrize("start, vocab_size", [(0, 456), (20_000, 356)])
def test_bpe_equals_a_reference_implementation_token_for_token(wikitext_valid, start, vocab_size):
    """Real text, a few KB of WikiText: the same merges in the same order, and the same ids on unseen text."""
    train, unseen = wikitext_valid[start : start + 6000], wikitext_valid[start + 6000 : start + 9000]
    merges = reference_train(train, vocab_size)
    tok = BPETokenizer.train(train, vocab_size)
    assert len(merges) == vocab_size - 256
    assert tok.merges == merges
    for text in (train, unseen, "".join(TRICKY)):
        assert tok.encode(text) == reference_encode(text, merges)


@pytest.mark.skipif(not HAVE_REGEX, reason="the reference splits with the `regex` module")
def test_hugging_face_bpe_makes_the_same_choices_up_to_ties(wikitext_valid):
    """Hugging Face's trainer breaks ties between equally frequent pairs its own way, so its merges are checked
    as a trace: each one must be a most frequent pair at its step. Until the first tie they equal ours."""
    train = wikitext_valid[:6000]
    hf = json.loads(HFBPETokenizer.train(train, 456).hf.to_str())["model"]["merges"]
    byte_of = _gpt2_byte_decoder()
    chunks, id_of = reference_chunks(train), {bytes([b]): b for b in range(256)}
    ours, tied = BPETokenizer.train(train, 456).merges, None
    for k, merge in enumerate(hf):
        a, b = (bytes(byte_of[c] for c in part) for part in (merge.split(" ") if isinstance(merge, str) else merge))
        pair = (id_of[a], id_of[b])
        counts = reference_pair_counts(chunks)
        best = max(counts.values())
        assert counts[pair] == best, f"merge {k} {a!r} + {b!r} seen {counts[pair]} times, the most frequent {best}"
        if tied is None and sum(c == best for c in counts.values()) > 1:
            tied = k
        if tied is None:
            assert pair == ours[k]
        id_of.setdefault(a + b, 256 + k)
        chunks = [reference_merge(ids, pair, id_of[a + b]) for ids in chunks]
    assert len(hf) == 200 and tied is not None and tied >= 5  # the equality above did check a few merges


def _gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's printable stand-in for each byte (how Hugging Face's byte-level BPE writes its merges), inverted."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{chr(b): b for b in printable}, **{chr(256 + n): b for n, b in enumerate(others)}}


def test_bpe_matches_hugging_face_compression(train_text):
    """Both byte-level BPEs, vocab 512, trained on WikiText train, compress WikiText valid alike."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GPT_COURSE_OFFLINE", "1")
        valid = data.load_wikitext2("valid")
    ours = BPETokenizer.train(train_text, 512)
    theirs = HFBPETokenizer.train(train_text, 512)
    assert ours.vocab_size == theirs.vocab_size == 512
    n_bytes = len(valid.encode("utf-8"))
    bpt_ours = n_bytes / len(ours.encode(valid))
    bpt_theirs = n_bytes / len(theirs.encode(valid))
    print(f"\nbytes per token on WikiText valid: from scratch {bpt_ours:.3f}, Hugging Face {bpt_theirs:.3f}")
    assert bpt_ours > 1.5
    assert abs(bpt_ours - bpt_theirs) / bpt_theirs < 0.05


# --- ids in every form, errors ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["char", "byte", "bpe", "hf_bpe"])
def test_decode_accepts_lists_tensors_and_arrays(tokenizers, name):
    tok = tokenizers[name]
    ids = tok.encode("the river and the town")
    expected = tok.decode(ids)
    assert tok.decode(torch.tensor(ids)) == expected
    assert tok.decode(np.array(ids)) == expected
    assert tok.decode(tuple(ids)) == expected
    with pytest.raises(ValueError, match="1-D"):
        tok.decode(torch.tensor([ids, ids]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([0, tok.vocab_size])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([-1])


# --- save / load ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["char", "byte", "bpe", "hf_bpe"])
def test_save_load_round_trip(tokenizers, name, tmp_path):
    tok = tokenizers[name]
    path = tmp_path / f"{name}.json"
    tok.save(path)
    d = json.loads(path.read_text(encoding="utf-8"))
    assert d["type"] == name
    text = "The River Callow is 42 @.@ 5 kilometres long ."
    for again in (load_tokenizer(path), type(tok).load(path), tokenizer_from_dict(tok.to_dict()),
                  Tokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))):
        assert type(again) is type(tok)
        assert again.vocab_size == tok.vocab_size == len(again)
        assert again.encode(text) == tok.encode(text)
        assert repr(again) == repr(tok)


def test_bpe_json_is_human_readable(tokenizers, tmp_path):
    tok = tokenizers["bpe"]
    path = tmp_path / "bpe.json"
    tok.save(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    merge_lines = [ln for ln in lines if '"pair"' in ln]
    assert len(merge_lines) == len(tok.merges)  # one merge per line
    first = json.loads(merge_lines[0].rstrip(","))
    assert first == {"id": 256, "pair": list(tok.merges[0]), "text": tok.merge_history[0]}


def test_load_with_the_wrong_class_says_which_loader_to_use(tokenizers, tmp_path):
    path = tmp_path / "bpe.json"
    tokenizers["bpe"].save(path)
    with pytest.raises(ValueError, match="load_tokenizer"):
        CharTokenizer.load(path)
    with pytest.raises(ValueError, match="unknown tokenizer type"):
        tokenizer_from_dict({"type": "sentencepiece"})
