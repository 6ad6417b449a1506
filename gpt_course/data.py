"""The course's data sets, read from the files that ship with it, and token batching.

The data ship with the course, verbatim, in the project's ``data/`` folder (origin, licence and SHA-256 in
``data/README.md``): the official WikiText-2 raw valid and test files, the SMS Spam Collection and
tiny-shakespeare. Every file is checked against its SHA-256 when it is read, so every learner works on the
bytes the notebooks were executed on. Nothing here touches the network unless asked to.

The pretraining corpus is the **course split** of WikiText-2, derived in `load_wikitext2` from the bundled
official files: train = official valid articles 1–54 (about 1 MB), valid = official valid articles 55–60,
test = the official test split. The official train split (10.9 MB) is one explicit choice away:
``load_wikitext2(split, corpus="official")`` downloads the official archive once, verifies it, and caches it.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import NamedTuple

import torch

__all__ = [
    "WIKITEXT2_SPLITS",
    "CORPORA",
    "SHA256",
    "COURSE_SPLIT_SHA256",
    "DataSource",
    "DataIntegrityError",
    "data_dir",
    "cache_dir",
    "resolve_wikitext2",
    "load_wikitext2",
    "load_sms_spam",
    "load_tinyshakespeare",
    "split_articles",
    "get_batch",
    "add_copy_rows",
    "COPY_SOURCES",
]

WIKITEXT2_SPLITS = ("train", "valid", "test")
CORPORA = ("course", "official")
_PROJECT_DIR = Path(__file__).resolve().parent.parent
DOWNLOAD_TIMEOUT_S = 30.0

# SHA-256 of every bundled file (and of the official valid/test members of the WikiText-2 archive).
SHA256: dict[str, str] = {
    "wikitext-2-raw/wiki.valid.raw": "4cd0f6876d07a413aa911261ff6d363c72d757d47f0fdd6015702014c89cb9c7",
    "wikitext-2-raw/wiki.test.raw": "173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08",
    "sms_spam/SMSSpamCollection": "7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d",
    "tinyshakespeare/input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
}
# SHA-256 of the course split that `load_wikitext2` derives (UTF-8): the text every notebook was run on.
COURSE_SPLIT_SHA256: dict[str, str] = {
    "train": "b5ace5c8d260937d5a4d614ed104ac2d05e1313ca95d63a10643c74f5d2bef5e",
    "valid": "2e86bc0819289527bc8449014cc312b349e1eed15da0d87639bc6fd9decd76b3",
    "test": "173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08",
}
COURSE_TRAIN_ARTICLES = 54  # official valid articles 1-54 train the course model, 55-60 validate it
_COURSE_SOURCE = {"train": "wiki.valid.raw", "valid": "wiki.valid.raw", "test": "wiki.test.raw"}
_COURSE_DERIVATION = {
    "train": "official valid split, articles 1-54",
    "valid": "official valid split, articles 55-60",
    "test": "official test split, whole file",
}

# The official archive, for corpus="official" (mirrors tried in order).
OFFICIAL_WIKITEXT2_URLS = (
    "https://wikitext.smerity.com/wikitext-2-raw-v1.zip",
    "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-raw-v1.zip",
)
OFFICIAL_TRAIN_LINES = 36_718  # wiki.train.raw of wikitext-2-raw-v1 (Merity et al. 2016)


class DataSource(NamedTuple):
    """Where a split's text comes from: the file read, how it was found, and what part of it is used."""

    path: Path
    origin: str  # "bundled", "GPT_COURSE_DATA", "cache" or "download"
    derivation: str  # e.g. "official valid split, articles 1-54"


class DataIntegrityError(ValueError):
    """A data file does not have the SHA-256 it should have."""


# --- where things live --------------------------------------------------------------------------
def data_dir() -> Path:
    """The folder holding the bundled data: ``$GPT_COURSE_DATA`` if set (a copy of the repository's
    ``data/``, for a package installed outside a checkout), else the project's ``data/``."""
    env = os.environ.get("GPT_COURSE_DATA")
    return Path(env).expanduser() if env else _PROJECT_DIR / "data"


def cache_dir() -> Path:
    """Where downloads go (the official WikiText-2): ``$GPT_COURSE_CACHE``, else ``data/cache`` of the
    project checkout (ignored by git), else ``~/.cache/gpt_course``."""
    env = os.environ.get("GPT_COURSE_CACHE")
    if env:
        return Path(env).expanduser()
    if (_PROJECT_DIR / "pyproject.toml").is_file():
        return _PROJECT_DIR / "data" / "cache"
    return Path.home() / ".cache" / "gpt_course"


def _offline() -> bool:
    return os.environ.get("GPT_COURSE_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _check_sha256(data: bytes, key: str, where: str, fix: str) -> None:
    got, expected = hashlib.sha256(data).hexdigest(), SHA256[key]
    if got != expected:
        raise DataIntegrityError(f"{where} is not the expected {key}: its SHA-256 is {got}, expected {expected}. {fix}")


@functools.lru_cache(maxsize=None)
def _read_bundled(key: str, folder: str) -> str:
    """The text of the bundled file `key` in `folder`, after checking its SHA-256 (cached per process)."""
    path = Path(folder) / key
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing. The course's data ship in the repository's data/ folder: run the course from a "
            "clone of the repository, or set GPT_COURSE_DATA to a folder holding a copy of that data/ folder."
        )
    _check_sha256(path.read_bytes(), key, str(path),
                  "The file was changed (by an editor, or by git converting line endings). Restore it with "
                  "`git checkout -- data/` in the repository, or copy it again from a fresh clone.")
    return path.read_text(encoding="utf-8")


def _bundled(key: str) -> tuple[str, DataSource]:
    folder = data_dir()
    origin = "GPT_COURSE_DATA" if os.environ.get("GPT_COURSE_DATA") else "bundled"
    return _read_bundled(key, str(folder)), DataSource(folder / key, origin, "whole file")


def _check_split(split: str) -> str:
    if split not in WIKITEXT2_SPLITS:
        raise ValueError(f"unknown WikiText-2 split {split!r}; valid splits are {', '.join(WIKITEXT2_SPLITS)}")
    return split


def _check_corpus(corpus: str) -> str:
    if corpus not in CORPORA:
        raise ValueError(f"unknown corpus {corpus!r}: use 'course' (the bundled 1 MB course split, the default) "
                         "or 'official' (the full WikiText-2, downloaded once)")
    return corpus


# --- WikiText-2 ---------------------------------------------------------------------------------
# a top-level title line, with a blank line (" ") before it and after it
_TITLE = re.compile(r"(?:\A|(?<=\A \n)|(?<=\n \n)) = [^=\n][^\n]* = \n(?= \n)")


def split_articles(text: str) -> list[str]:
    """Split WikiText raw text into articles at each top-level `` = Title = `` line (joining them gives `text` back)."""
    starts = [m.start() for m in _TITLE.finditer(text)]
    if not starts:
        return [text] if text else []
    starts[0] = 0  # whatever precedes the first title belongs to the first article
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def _course_split(split: str) -> tuple[str, DataSource]:
    text, src = _bundled(f"wikitext-2-raw/{_COURSE_SOURCE[split]}")
    if split != "test":
        articles = split_articles(text)
        if split == "train":
            text = "".join(articles[:COURSE_TRAIN_ARTICLES])
        else:  # each split file starts with a blank line " \n", as the official files do
            text = " \n" + "".join(articles[COURSE_TRAIN_ARTICLES:])
    got = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if got != COURSE_SPLIT_SHA256[split]:  # cannot happen with verified files unless the derivation changed
        raise DataIntegrityError(f"the course {split} split derived from {src.path} has SHA-256 {got}, expected "
                                 f"{COURSE_SPLIT_SHA256[split]}: the derivation in gpt_course/data.py was changed")
    return text, src._replace(derivation=_COURSE_DERIVATION[split])


def _download_official(dest: Path) -> None:
    """Download the official WikiText-2 raw archive, verify it, then install its three files into `dest`.

    Nothing is written to `dest` unless the archive's valid and test members have their known SHA-256 and
    its train member has the official number of lines."""
    if _offline():
        raise RuntimeError("the official WikiText-2 is not in the cache and downloads are off (GPT_COURSE_OFFLINE=1). "
                           f"Unset it, or put wiki.train.raw, wiki.valid.raw and wiki.test.raw into {dest}.")
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "wikitext-2-raw-v1.zip"
        for url in OFFICIAL_WIKITEXT2_URLS:
            print(f"gpt_course: downloading the official WikiText-2 from {url}", file=sys.stderr)
            try:
                _fetch(url, archive)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:  # offline, 404...
                errors.append(f"{url}: {e}")
                continue
            files = _official_members(archive, url)
            dest.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                fd, part = tempfile.mkstemp(dir=dest, prefix=f".{name}-", suffix=".part")
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(data)
                    os.replace(part, dest / name)  # atomic: readers see no file or the whole file
                finally:
                    Path(part).unlink(missing_ok=True)
            return
    raise RuntimeError("could not download the official WikiText-2 from any mirror (" + "; ".join(errors) + "). "
                       f"Download wikitext-2-raw-v1.zip yourself and put its three wiki.*.raw files into {dest}.")


def _fetch(url: str, dest: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Download `url` into the file `dest`."""
    with urllib.request.urlopen(url, timeout=timeout) as r, open(dest, "wb") as f:
        shutil.copyfileobj(r, f)


def _official_members(archive: Path, url: str) -> dict[str, bytes]:
    """The three split files of the official archive, verified; DataIntegrityError if anything is off."""
    try:
        with zipfile.ZipFile(archive) as zf:
            files = {f"wiki.{s}.raw": zf.read(f"wikitext-2-raw/wiki.{s}.raw") for s in WIKITEXT2_SPLITS}
    except (zipfile.BadZipFile, KeyError) as e:
        raise DataIntegrityError(f"{url} is not the WikiText-2 raw archive ({e}). Nothing was installed.") from None
    fix = "Nothing was installed; the mirror may be serving another file. Try again later or another mirror."
    for s in ("valid", "test"):
        _check_sha256(files[f"wiki.{s}.raw"], f"wikitext-2-raw/wiki.{s}.raw", f"wiki.{s}.raw in {url}", fix)
    lines = files["wiki.train.raw"].count(b"\n")
    if lines != OFFICIAL_TRAIN_LINES:
        raise DataIntegrityError(f"wiki.train.raw in {url} has {lines:,} lines, expected {OFFICIAL_TRAIN_LINES:,}. {fix}")
    return files


def _official_split(split: str) -> tuple[str, DataSource]:
    dest = cache_dir() / "wikitext-2-raw"
    path = dest / f"wiki.{split}.raw"
    origin = "cache"
    if not all((dest / f"wiki.{s}.raw").is_file() for s in WIKITEXT2_SPLITS):
        _download_official(dest)
        origin = "download"
    data = path.read_bytes()
    if split != "train":
        _check_sha256(data, f"wikitext-2-raw/{path.name}", str(path), f"Delete {dest} and load it again.")
    return data.decode("utf-8"), DataSource(path, origin, f"official {split} split, whole file")


def resolve_wikitext2(split: str = "train", corpus: str = "course") -> DataSource:
    """Where WikiText-2 `split` of `corpus` comes from: the file, how it was found, and which part is used."""
    return _wikitext2(_check_split(split), _check_corpus(corpus))[1]


def load_wikitext2(split: str = "train", corpus: str = "course") -> str:
    """The raw text of WikiText-2 `split` ("train", "valid" or "test").

    corpus="course" (default): the course split derived from the bundled official files (no network).
    corpus="official": the official WikiText-2 raw splits (train is 10.9 MB), downloaded once and verified."""
    return _wikitext2(_check_split(split), _check_corpus(corpus))[0]


def _wikitext2(split: str, corpus: str) -> tuple[str, DataSource]:
    return _course_split(split) if corpus == "course" else _official_split(split)


# --- SMS Spam Collection and tiny-shakespeare -----------------------------------------------------
def load_sms_spam() -> list[tuple[str, str]]:
    """The SMS Spam Collection v.1 as ``(label, text)`` pairs, label ``"ham"`` or ``"spam"`` (5,574 messages)."""
    text, src = _bundled("sms_spam/SMSSpamCollection")
    out = []
    for n, line in enumerate(text.split("\n"), 1):  # not splitlines: keep \x0c etc. inside messages
        if not line.strip():
            continue
        label, sep, message = line.partition("\t")
        if not sep or label not in ("ham", "spam"):
            raise ValueError(f"{src.path}, line {n}: expected 'ham<TAB>text' or 'spam<TAB>text', got {line[:60]!r}")
        out.append((label, message))
    return out


def load_tinyshakespeare() -> str:
    """The tiny-shakespeare corpus (1,115,394 characters of Shakespeare's plays) as one string."""
    return _bundled("tinyshakespeare/input.txt")[0]


# --- token streams and batches ------------------------------------------------------------------
def _as_token_tensor(data: torch.Tensor) -> torch.Tensor:
    data = torch.as_tensor(data)
    if data.dim() != 1:
        raise ValueError(f"expected a 1-D stream of token ids, got shape {tuple(data.shape)}")
    if data.is_floating_point() or data.is_complex():
        raise ValueError(f"token ids must be integers, got dtype {data.dtype}")
    return data.long()


def _check_length(n: int, block_size: int) -> None:
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, got {block_size}")
    if n < block_size + 1:
        raise ValueError(
            f"the token stream has {n} tokens, but block_size={block_size} needs at least {block_size + 1} "
            f"(block_size inputs plus one more for the last target). Use a smaller block_size or more text."
        )


def get_batch(data: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator | None,
              device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` random windows of the stream: x = tokens[i : i+T], y = tokens[i+1 : i+T+1] (the next token)."""
    data = _as_token_tensor(data)
    _check_length(data.numel(), block_size)
    ix = torch.randint(data.numel() - block_size, (batch_size,), generator=generator)
    offsets = ix[:, None] + torch.arange(block_size)  # (B, T) positions in the stream
    x, y = data[offsets], data[offsets + 1]
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


COPY_SOURCES = ("random", "text")


def add_copy_rows(x: torch.Tensor, y: torch.Tensor, data: torch.Tensor, n_rows: int,
                  generator: torch.Generator | None, source: str = "random", min_len: int | None = None,
                  max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Copies of (x, y) whose first `n_rows` rows are replaced by copying practice: a run of L tokens read again
    and again to the end of the window (L uniform in [min_len, max_len]; by default 6 or 16 up to half the window).

    `source="random"`: L tokens drawn at random from `data` (as frequent as in the text, in no order); the targets
    of the first reading are IGNORE_INDEX, since nothing predicts them. `source="text"`: a passage of `data` at a
    random place, every target scored (the first reading is ordinary text). Either way every later token can be
    predicted by finding its earlier occurrence and copying what followed it there, which is what an *induction
    head* does (notebook 16). A small corpus read many times rewards recalling the text over copying from the
    window, so such heads need this practice to form."""
    from .model import IGNORE_INDEX

    if source not in COPY_SOURCES:
        raise ValueError(f"source={source!r} is unknown: choose one of {COPY_SOURCES}")
    data = _as_token_tensor(data)
    batch, block = x.shape
    min_len = (6 if source == "random" else 16) if min_len is None else min_len
    max_len = block // 2 if max_len is None else max_len
    if not 0 <= n_rows <= batch:
        raise ValueError(f"n_rows={n_rows} must be between 0 and the batch size {batch}")
    if not 2 <= min_len <= max_len <= min(block, data.numel() - 1):
        raise ValueError(f"need 2 <= min_len <= max_len <= block_size ({block}) and fewer than the {data.numel()} "
                         f"tokens of data; got min_len={min_len}, max_len={max_len}")
    x, y = x.clone(), y.clone()
    for r in range(n_rows):
        length = int(torch.randint(min_len, max_len + 1, (1,), generator=generator))
        if source == "random":
            run = data[torch.randint(data.numel(), (length,), generator=generator)]
        else:
            start = int(torch.randint(data.numel() - length + 1, (1,), generator=generator))
            run = data[start:start + length]
        row = run.repeat(block // length + 2)[: block + 1].to(x.device)
        x[r], y[r] = row[:-1], row[1:]
        if source == "random":
            y[r, : length - 1] = IGNORE_INDEX
    return x, y
