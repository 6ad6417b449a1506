"""Tokenizers: characters, raw bytes, byte-level BPE from scratch, and the Hugging Face fast path.

All share one interface (`Tokenizer`): ``encode(text) -> list[int]``, ``decode(ids) -> str``,
``vocab_size``, ``save(path)`` / ``load(path)`` as human-readable JSON with a ``"type"`` field, and
``to_dict()`` / ``from_dict(d)`` so a checkpoint can carry its tokenizer.
"""

from __future__ import annotations

import heapq
import json
import os
from collections import Counter, defaultdict
from typing import Any, ClassVar, Iterable

try:  # the `regex` module understands \p{L} (any letter) like GPT-2's own pattern
    import regex as _re

    HAVE_REGEX = True
except ImportError:  # pragma: no cover - exercised only where `regex` is missing
    import re as _re

    HAVE_REGEX = False

__all__ = [
    "Tokenizer",
    "CharTokenizer",
    "ByteTokenizer",
    "BPETokenizer",
    "HFBPETokenizer",
    "GPT2_SPLIT_PATTERN",
    "merge_pair",
    "load_tokenizer",
    "tokenizer_from_dict",
    "printable_bytes",
]

#: GPT-2's pre-tokenization pattern: contractions, words with one leading space, numbers,
#: punctuation runs, and whitespace (a final space stays with the next word).
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# The same split written for the standard `re` module ([^\W\d_] = a letter, \d = a digit).
_RE_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""


def _compile_split(pattern: str):
    if not HAVE_REGEX and pattern == GPT2_SPLIT_PATTERN:  # pragma: no cover
        pattern = _RE_SPLIT_PATTERN
    return _re.compile(pattern)


def _as_id_list(ids: Any) -> list[int]:
    """Accept a list/tuple of ints, or a 1-D torch tensor / numpy array, and return a list of ints."""
    if hasattr(ids, "tolist"):  # torch.Tensor, numpy.ndarray
        ndim = ids.ndim if hasattr(ids, "ndim") else len(getattr(ids, "shape", ()))
        if ndim != 1:
            raise ValueError(
                f"decode takes one sequence of token ids (1-D), got shape {tuple(ids.shape)}; "
                "for a batch, decode each row: [tok.decode(row) for row in ids]"
            )
        return [int(i) for i in ids.tolist()]
    return [int(i) for i in ids]


def _check_ids(ids: list[int], vocab_size: int) -> list[int]:
    if ids and (min(ids) < 0 or max(ids) >= vocab_size):
        bad = next(i for i in ids if not 0 <= i < vocab_size)
        raise ValueError(
            f"token id {bad} is outside the vocabulary (ids are 0..{vocab_size - 1}); "
            "were these ids made by a different tokenizer?"
        )
    return ids


def printable_bytes(b: bytes) -> str:
    """Show a token's bytes as text: valid UTF-8 as characters, control characters and stray bytes escaped."""
    out = []
    for ch in b.decode("utf-8", errors="surrogateescape"):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # a byte that is not (complete) UTF-8 on its own
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif ch == " " or ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
    return "".join(out)


def _dumps_readable(d: dict) -> str:
    """JSON with one list item per line, so merges and vocabularies read like a table."""
    lines = ["{"]
    items = list(d.items())
    for n, (key, val) in enumerate(items):
        comma = "," if n < len(items) - 1 else ""
        if isinstance(val, list) and val:
            inner = ",\n".join("    " + json.dumps(v, ensure_ascii=False) for v in val)
            lines.append(f"  {json.dumps(key)}: [\n{inner}\n  ]{comma}")
        else:
            text = json.dumps(val, ensure_ascii=False, indent=2).replace("\n", "\n  ")
            lines.append(f"  {json.dumps(key)}: {text}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


class Tokenizer:
    """Base class: text <-> list of integer ids, with JSON save/load."""

    type_name: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Tokenizer]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.type_name:
            Tokenizer._registry[cls.type_name] = cls

    # --- the interface every tokenizer implements -------------------------------------------
    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        """Rebuild a tokenizer from `to_dict()` output (dispatches on ``d["type"]`` when called on the base)."""
        kind = d.get("type")
        if kind not in Tokenizer._registry:
            raise ValueError(
                f"unknown tokenizer type {kind!r}; known types: {sorted(Tokenizer._registry)}"
            )
        target = Tokenizer._registry[kind]
        if cls is not Tokenizer and not issubclass(target, cls):
            raise ValueError(
                f"this is a {kind!r} tokenizer, not a {cls.type_name!r} one; "
                f"use {target.__name__}.load or gpt_course.tokenizers.load_tokenizer"
            )
        return target._from_dict(d)

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        raise NotImplementedError

    # --- shared helpers -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as human-readable JSON."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(_dumps_readable(self.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Read a tokenizer written by `save`."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


def tokenizer_from_dict(d: dict[str, Any]) -> Tokenizer:
    """Rebuild any tokenizer from its `to_dict()` (e.g. the copy stored in a checkpoint)."""
    return Tokenizer.from_dict(d)


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Load any tokenizer saved with `save`, whatever its type."""
    return Tokenizer.load(path)


# ---------------------------------------------------------------------------------------------
class CharTokenizer(Tokenizer):
    """One token per character; the vocabulary is the sorted set of characters of a training text."""

    type_name = "char"

    def __init__(self, chars: Iterable[str], unk: str | None = None) -> None:
        self.chars: list[str] = sorted(set(chars))
        if any(len(c) != 1 for c in self.chars):
            raise ValueError("CharTokenizer vocabulary entries must be single characters")
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        if unk is not None and unk not in self.stoi:
            raise ValueError(
                f"unk={unk!r} is not in the vocabulary; choose a character that the training text "
                f"contains (for example {self.chars[:1]!r}), or add it to the text"
            )
        self.unk = unk

    @classmethod
    def from_text(cls, text: str, unk: str | None = None) -> CharTokenizer:
        """Vocabulary = every distinct character of `text`; `unk` (a character of it) replaces unseen ones."""
        if not text:
            raise ValueError("cannot build a character vocabulary from an empty text")
        return cls(text, unk=unk)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        stoi = self.stoi
        if self.unk is not None:
            unk_id = stoi[self.unk]
            return [stoi.get(c, unk_id) for c in text]
        try:
            return [stoi[c] for c in text]
        except KeyError:
            pos = next(i for i, c in enumerate(text) if c not in stoi)
            c = text[pos]
            raise ValueError(
                f"character {c!r} (U+{ord(c):04X}) at position {pos} is not in the vocabulary of "
                f"{self.vocab_size} characters. Build the vocabulary from text that contains it "
                f"(CharTokenizer.from_text(...)), or declare an unknown-character policy with "
                f"unk=<a character in the vocabulary>, e.g. CharTokenizer.from_text(text, unk=' ')"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        ids = _check_ids(_as_id_list(ids), self.vocab_size)
        return "".join([self.chars[i] for i in ids])

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_name, "unk": self.unk, "chars": self.chars}

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> CharTokenizer:
        return cls(d["chars"], unk=d.get("unk"))

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, unk={self.unk!r})"


# ---------------------------------------------------------------------------------------------
class ByteTokenizer(Tokenizer):
    """The 256 raw UTF-8 bytes: never meets an unknown symbol, but makes long sequences.

    `decode` uses ``errors="replace"``: generation can stop in the middle of a multi-byte
    character, and the broken tail then shows as U+FFFD instead of raising.
    """

    type_name = "byte"

    @property
    def vocab_size(self) -> int:
        return 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Iterable[int]) -> str:
        return bytes(_check_ids(_as_id_list(ids), 256)).decode("utf-8", errors="replace")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_name}

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> ByteTokenizer:
        return cls()


# ---------------------------------------------------------------------------------------------
def merge_pair(seq: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of `pair` in `seq` (left to right) by `new_id`."""
    a, b = pair
    out: list[int] = []
    i, n = 0, len(seq)
    while i < n:
        if i < n - 1 and seq[i] == a and seq[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out


class BPETokenizer(Tokenizer):
    """Byte-level byte-pair encoding, GPT-2 style, written from scratch.

    Ids 0..255 are the raw bytes; merge number k (0-based) creates id 256 + k. Text is first split
    with `GPT2_SPLIT_PATTERN`, so merges never cross a word/space/punctuation boundary.
    """

    type_name = "bpe"
    _CACHE_LIMIT = 200_000

    def __init__(self, merges: Iterable[tuple[int, int]] = (), pattern: str = GPT2_SPLIT_PATTERN) -> None:
        self.merges: list[tuple[int, int]] = [(int(a), int(b)) for a, b in merges]
        self.pattern = pattern
        self._split = _compile_split(pattern)
        self.ranks: dict[tuple[int, int], int] = {}
        self.vocab: list[bytes] = [bytes([i]) for i in range(256)]
        for k, (a, b) in enumerate(self.merges):
            if not (0 <= a < len(self.vocab) and 0 <= b < len(self.vocab)):
                raise ValueError(f"merge {k} = ({a}, {b}) uses an id that does not exist yet")
            self.ranks[(a, b)] = k
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._cache: dict[str, list[int]] = {}

    # --- training -----------------------------------------------------------------------------
    @classmethod
    def train(cls, text: str, vocab_size: int, verbose: bool = False,
              pattern: str = GPT2_SPLIT_PATTERN) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from `text`: repeatedly merge the most frequent adjacent pair.

        Ties go to the pair with the lowest ids. Pair counts are updated incrementally over the
        distinct pre-split chunks (each weighted by how often it occurs), so training is fast.
        """
        if vocab_size < 256:
            raise ValueError(
                f"vocab_size={vocab_size} is too small: byte-level BPE starts from the 256 byte values, "
                "so vocab_size must be at least 256 (256 means no merges)"
            )
        split = _compile_split(pattern)
        chunk_counts = Counter(split.findall(text))
        words: list[list[int]] = [list(c.encode("utf-8")) for c in chunk_counts]
        freqs: list[int] = list(chunk_counts.values())

        stats: dict[tuple[int, int], int] = defaultdict(int)  # pair -> weighted count
        where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> chunks that may hold it
        for w, (seq, f) in enumerate(zip(words, freqs)):
            for pair in zip(seq, seq[1:]):
                stats[pair] += f
                where[pair].add(w)
        heap = [(-c, p) for p, c in stats.items()]
        heapq.heapify(heap)

        merges: list[tuple[int, int]] = []
        vocab = [bytes([i]) for i in range(256)]
        while len(vocab) < vocab_size and heap:
            neg, pair = heapq.heappop(heap)
            if stats.get(pair, 0) != -neg:  # stale entry: the count changed since it was pushed
                continue
            if -neg < 1:
                break
            new_id = len(vocab)
            merges.append(pair)
            vocab.append(vocab[pair[0]] + vocab[pair[1]])
            if verbose:
                print(f"merge {len(merges):4d}/{vocab_size - 256}: "
                      f"{printable_bytes(vocab[pair[0]])!r} + {printable_bytes(vocab[pair[1]])!r} -> "
                      f"{printable_bytes(vocab[new_id])!r}  (count {-neg})")
            changed: set[tuple[int, int]] = set()
            for w in where.pop(pair):
                seq = words[w]
                if len(seq) < 2:
                    continue
                new = merge_pair(seq, pair, new_id)
                if len(new) == len(seq):
                    continue
                f = freqs[w]
                for p in zip(seq, seq[1:]):
                    stats[p] -= f
                    changed.add(p)
                for p in zip(new, new[1:]):
                    stats[p] += f
                    where[p].add(w)
                    changed.add(p)
                words[w] = new
            stats.pop(pair, None)
            for p in changed:
                c = stats.get(p, 0)
                if c > 0:
                    heapq.heappush(heap, (-c, p))
                elif p in stats:
                    del stats[p]
        return cls(merges, pattern=pattern)

    # --- encoding / decoding ------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        ranks = self.ranks
        while len(ids) >= 2:
            # the pair that was merged earliest in training is applied first
            pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, 1 << 60))
            if pair not in ranks:
                break
            ids = merge_pair(ids, pair, 256 + ranks[pair])
        return ids

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        cache = self._cache
        for chunk in self._split.findall(text):
            ids = cache.get(chunk)
            if ids is None:
                ids = self._encode_chunk(chunk)
                if len(cache) >= self._CACHE_LIMIT:
                    cache.clear()
                cache[chunk] = ids
            out.extend(ids)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Concatenate the tokens' bytes and decode as UTF-8 (a cut-off character shows as U+FFFD)."""
        ids = _check_ids(_as_id_list(ids), self.vocab_size)
        return b"".join([self.vocab[i] for i in ids]).decode("utf-8", errors="replace")

    # --- inspection ---------------------------------------------------------------------------
    def token_bytes(self, i: int) -> bytes:
        """The bytes that token `i` stands for."""
        return self.vocab[i]

    def token_str(self, i: int) -> str:
        """Token `i` as printable text (stray bytes escaped as \\xNN)."""
        return printable_bytes(self.vocab[i])

    @property
    def merge_history(self) -> list[str]:
        """Merges in training order, readable: ``"'t' + 'h' -> 'th'"``."""
        return [f"{self.token_str(a)!r} + {self.token_str(b)!r} -> {self.token_str(256 + k)!r}"
                for k, (a, b) in enumerate(self.merges)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type_name,
            "pattern": self.pattern,
            "vocab_size": self.vocab_size,
            "merges": [{"id": 256 + k, "pair": [a, b], "text": h}
                       for k, ((a, b), h) in enumerate(zip(self.merges, self.merge_history))],
        }

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> BPETokenizer:
        merges = []
        for k, m in enumerate(d["merges"]):
            if m.get("id", 256 + k) != 256 + k:
                raise ValueError(f"merge {k} has id {m['id']}, expected {256 + k}: the merges are out of order")
            merges.append(tuple(m["pair"]))
        return cls(merges, pattern=d.get("pattern", GPT2_SPLIT_PATTERN))


# ---------------------------------------------------------------------------------------------
class HFBPETokenizer(Tokenizer):
    """Byte-level BPE trained and run by Hugging Face `tokenizers` (Rust): the fast path."""

    type_name = "hf_bpe"

    def __init__(self, hf_tokenizer: Any) -> None:
        self.hf = hf_tokenizer

    @classmethod
    def train(cls, text: str, vocab_size: int, verbose: bool = False) -> HFBPETokenizer:
        """Train GPT-2-style byte-level BPE (all 256 bytes in the initial alphabet, no normalizer)."""
        if vocab_size < 256:
            raise ValueError(
                f"vocab_size={vocab_size} is too small: byte-level BPE starts from the 256 byte values, "
                "so vocab_size must be at least 256"
            )
        from tokenizers import Tokenizer as HFTokenizer, decoders, models, pre_tokenizers, trainers

        tok = HFTokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False)
        tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=[],
            show_progress=verbose,
        )
        tok.train_from_iterator([text], trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Iterable[int]) -> str:
        ids = _check_ids(_as_id_list(ids), self.vocab_size)
        return self.hf.decode(ids, skip_special_tokens=False)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_name, "hf_tokenizer": json.loads(self.hf.to_str())}

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> HFBPETokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        hf = d["hf_tokenizer"]
        return cls(HFTokenizer.from_str(hf if isinstance(hf, str) else json.dumps(hf)))
