"""Data sets of the course (WikiText-2 raw, SMS Spam Collection, tiny-shakespeare) and token batching.

Each loader finds its data in this order: an explicit ``root``; the folder named by the environment
variable ``GPT_COURSE_DATA``; the download cache (``data/cache/`` in a project checkout, or
``GPT_COURSE_CACHE``); a download verified by SHA-256 (skipped when ``GPT_COURSE_OFFLINE=1``); and
last the small sample that ships inside the package, announced by one printed line.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch

from gpt_course.tokenizers import Tokenizer

__all__ = [
    "WIKITEXT2_SPLITS",
    "DataSource",
    "DataIntegrityError",
    "cache_dir",
    "resolve_wikitext2",
    "resolve_sms_spam",
    "resolve_tinyshakespeare",
    "load_wikitext2",
    "load_sms_spam",
    "load_tinyshakespeare",
    "split_articles",
    "get_batch",
    "TokenDataset",
    "encode_splits",
]

WIKITEXT2_SPLITS = ("train", "valid", "test")
_PACKAGE_DIR = Path(__file__).resolve().parent
DOWNLOAD_TIMEOUT_S = 10.0


class DataSource(NamedTuple):
    """Where a data file came from: its path and how it was found."""

    path: Path
    origin: str  # "root", "GPT_COURSE_DATA", "cache", "download" or "embedded sample"

    @property
    def is_sample(self) -> bool:
        return self.origin == "embedded sample"


class DataIntegrityError(ValueError):
    """A downloaded file does not have the SHA-256 it should have."""


@dataclass(frozen=True)
class _Dataset:
    name: str  # shown to the learner
    folder: str  # sub-folder of GPT_COURSE_DATA / the cache
    files: tuple[str, ...]  # files installed into `folder`
    urls: tuple[str, ...]  # mirrors, tried in order
    members: dict[str, str] | None  # file -> path inside the zip archive; None: the url is the file
    sample: str  # package file used when nothing else is found


# SHA-256 of every file we can verify; None means "not known here: accepted unverified" (see data/README.md).
SHA256: dict[str, str | None] = {
    "wikitext-2-raw-v1.zip": None,
    "wikitext-2-raw/wiki.train.raw": None,
    "wikitext-2-raw/wiki.valid.raw": "4cd0f6876d07a413aa911261ff6d363c72d757d47f0fdd6015702014c89cb9c7",
    "wikitext-2-raw/wiki.test.raw": "173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08",
    "sms+spam+collection.zip": None,
    "sms_spam/SMSSpamCollection": "7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d",
    "tinyshakespeare/input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
}

WIKITEXT2 = _Dataset(
    name="WikiText-2",
    folder="wikitext-2-raw",
    files=tuple(f"wiki.{s}.raw" for s in WIKITEXT2_SPLITS),
    urls=(
        "https://wikitext.smerity.com/wikitext-2-raw-v1.zip",
        "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-raw-v1.zip",
    ),
    members={f"wiki.{s}.raw": f"wikitext-2-raw/wiki.{s}.raw" for s in WIKITEXT2_SPLITS},
    sample="wikitext_sample.txt",
)
SMS_SPAM = _Dataset(
    name="SMS Spam Collection",
    folder="sms_spam",
    files=("SMSSpamCollection",),
    urls=("https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip",),
    members={"SMSSpamCollection": "SMSSpamCollection"},
    sample="sms_sample.txt",
)
TINYSHAKESPEARE = _Dataset(
    name="tiny-shakespeare",
    folder="tinyshakespeare",
    files=("input.txt",),
    urls=("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",),
    members=None,
    sample="verse_drama_sample.txt",
)

_announced: set[tuple[str, str]] = set()  # (data set, file) whose fallback line was printed
_download_failed: dict[str, str] = {}  # data set -> why its download failed in this process


# --- where things live --------------------------------------------------------------------------
def cache_dir() -> Path:
    """The download cache: ``$GPT_COURSE_CACHE``, else ``data/cache`` of the project checkout,
    else ``~/.cache/gpt_course``."""
    env = os.environ.get("GPT_COURSE_CACHE")
    if env:
        return Path(env).expanduser()
    project = _PACKAGE_DIR.parent
    if (project / "pyproject.toml").is_file():
        return project / "data" / "cache"
    return Path.home() / ".cache" / "gpt_course"


def _offline() -> bool:
    return os.environ.get("GPT_COURSE_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(url: str, dest: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Download `url` into the file `dest` (tests replace this function to avoid the network)."""
    with urllib.request.urlopen(url, timeout=timeout) as r, open(dest, "wb") as f:
        shutil.copyfileobj(r, f)


def _verify(data: bytes, key: str, url: str) -> None:
    expected = SHA256.get(key)
    if expected is None:
        return
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise DataIntegrityError(
            f"{key} downloaded from {url} is corrupted or not the expected file: its SHA-256 is "
            f"{got}, expected {expected}. Nothing was installed. Try again later, or download it "
            "yourself and point GPT_COURSE_DATA at the folder that holds it (see data/README.md)."
        )


def _download(ds: _Dataset, dest_dir: Path) -> bool:
    """Fetch `ds` into `dest_dir`, verify every file, then move them into place. False if unreachable."""
    if _offline() or ds.name in _download_failed:
        return False
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _download_failed[ds.name] = f"cannot create {dest_dir}: {e}"
        return False
    errors = []
    for url in ds.urls:
        fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=".download-", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            try:
                _fetch(url, tmp)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:  # offline, 404...
                errors.append(f"{url}: {e}")
                continue
            raw = tmp.read_bytes()
            archive_name = url.rsplit("/", 1)[-1]
            contents: dict[str, bytes] = {}
            if ds.members is None:
                contents[ds.files[0]] = raw
            else:
                _verify(raw, archive_name, url)
                try:
                    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                        for file, member in ds.members.items():
                            contents[file] = zf.read(member)
                except (zipfile.BadZipFile, KeyError) as e:
                    raise DataIntegrityError(
                        f"{url} is not the expected {ds.name} archive ({e}). Nothing was installed."
                    ) from None
            for file, data in contents.items():  # verify everything before installing anything
                _verify(data, f"{ds.folder}/{file}", url)
            for file, data in contents.items():
                fd, part = tempfile.mkstemp(dir=dest_dir, prefix=f".{file}-", suffix=".part")
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(data)
                    os.replace(part, dest_dir / file)  # atomic: readers see no file or the whole file
                finally:
                    Path(part).unlink(missing_ok=True)
            return True
        finally:
            tmp.unlink(missing_ok=True)
    _download_failed[ds.name] = "; ".join(errors)
    return False


def _resolve(ds: _Dataset, file: str, root: str | os.PathLike | None) -> DataSource:
    if root is not None:
        root = Path(root).expanduser()
        for candidate in (root / ds.folder / file, root / file):
            if candidate.is_file():
                return DataSource(candidate, "root")
        raise FileNotFoundError(
            f"{ds.name}: neither {root / ds.folder / file} nor {root / file} exists. Pass a root folder "
            f"that holds {ds.folder}/{file} (or {file} itself), or root=None to search the usual places."
        )
    env = os.environ.get("GPT_COURSE_DATA")
    if env:
        candidate = Path(env).expanduser() / ds.folder / file
        if candidate.is_file():
            return DataSource(candidate, "GPT_COURSE_DATA")
    cache = cache_dir() / ds.folder
    if (cache / file).is_file():
        return DataSource(cache / file, "cache")
    if _download(ds, cache) and (cache / file).is_file():
        return DataSource(cache / file, "download")
    sample = _PACKAGE_DIR / ds.sample
    if (ds.name, file) not in _announced:
        _announced.add((ds.name, file))
        why = ("downloads off: GPT_COURSE_OFFLINE=1" if _offline()
               else f"download failed: {_download_failed.get(ds.name, 'unknown error')}")
        where = f"not in GPT_COURSE_DATA={env}" if env else "GPT_COURSE_DATA unset"
        print(
            f"gpt_course: {ds.name} {file} not found ({where}; not in {cache}; {why}). Using the embedded "
            f"offline sample ({sample.stat().st_size // 1024} KB); for the real data set GPT_COURSE_DATA "
            f"to a folder holding {ds.folder}/."
        )
    return DataSource(sample, "embedded sample")


def _check_split(split: str) -> str:
    if split not in WIKITEXT2_SPLITS:
        raise ValueError(f"unknown WikiText-2 split {split!r}; valid splits are {', '.join(WIKITEXT2_SPLITS)}")
    return split


# --- WikiText-2 ---------------------------------------------------------------------------------
def resolve_wikitext2(split: str = "train", root: str | os.PathLike | None = None) -> DataSource:
    """Find (or download) ``wiki.{split}.raw`` and say where it came from."""
    return _resolve(WIKITEXT2, f"wiki.{_check_split(split)}.raw", root)


# a top-level title line, with a blank line (" ") before it and after it
_TITLE = re.compile(r"(?:\A|(?<=\A \n)|(?<=\n \n)) = [^=\n][^\n]* = \n(?= \n)")


def split_articles(text: str) -> list[str]:
    """Split WikiText raw text into articles at each top-level `` = Title = `` line (joining them gives `text` back)."""
    starts = [m.start() for m in _TITLE.finditer(text)]
    if not starts:
        return [text] if text else []
    starts[0] = 0  # whatever precedes the first title belongs to the first article
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def _sample_split(text: str, split: str) -> str:
    """Disjoint train/valid/test portions of the embedded sample, by article (8 : 1 : 1)."""
    index = {"valid": 8, "test": 9}
    articles = split_articles(text)
    if split == "train":
        return "".join(a for i, a in enumerate(articles) if i % 10 < 8)
    return "".join(a for i, a in enumerate(articles) if i % 10 == index[split])


def load_wikitext2(split: str = "train", root: str | os.PathLike | None = None) -> str:
    """The text of WikiText-2 raw `split` ("train", "valid" or "test"); `resolve_wikitext2` says where it came from."""
    src = resolve_wikitext2(split, root)
    text = src.path.read_text(encoding="utf-8")
    return _sample_split(text, split) if src.is_sample else text


# --- SMS Spam Collection ------------------------------------------------------------------------
def resolve_sms_spam(root: str | os.PathLike | None = None) -> DataSource:
    """Find (or download) ``SMSSpamCollection`` and say where it came from."""
    return _resolve(SMS_SPAM, "SMSSpamCollection", root)


def load_sms_spam(root: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """The SMS Spam Collection as ``(label, text)`` pairs, label ``"ham"`` or ``"spam"``."""
    src = resolve_sms_spam(root)
    out = []
    for n, line in enumerate(src.path.read_text(encoding="utf-8").split("\n"), 1):  # not splitlines: keep \x0c etc.
        if not line.strip():
            continue
        label, sep, text = line.partition("\t")
        if not sep or label not in ("ham", "spam"):
            raise ValueError(f"{src.path}, line {n}: expected 'ham<TAB>text' or 'spam<TAB>text', got {line[:60]!r}")
        out.append((label, text))
    return out


# --- tiny-shakespeare ---------------------------------------------------------------------------
def resolve_tinyshakespeare(root: str | os.PathLike | None = None) -> DataSource:
    """Find (or download) tiny-shakespeare ``input.txt`` and say where it came from."""
    return _resolve(TINYSHAKESPEARE, "input.txt", root)


def load_tinyshakespeare(root: str | os.PathLike | None = None) -> str:
    """The tiny-shakespeare corpus as one string (the embedded fallback is an original verse drama)."""
    return resolve_tinyshakespeare(root).path.read_text(encoding="utf-8")


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


class TokenDataset(torch.utils.data.Dataset):
    """Blocks of a token stream as ``(x, y)`` pairs, y shifted by one token.

    The default `stride` (= block_size) gives non-overlapping blocks; a smaller stride overlaps them."""

    def __init__(self, data: torch.Tensor, block_size: int, stride: int | None = None) -> None:
        self.data = _as_token_tensor(data)
        _check_length(self.data.numel(), block_size)
        self.block_size = block_size
        self.stride = block_size if stride is None else stride
        if self.stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")

    def __len__(self) -> int:
        return (self.data.numel() - self.block_size - 1) // self.stride + 1

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"block {i} out of range for {len(self)} blocks")
        start = (i % len(self)) * self.stride
        chunk = self.data[start:start + self.block_size + 1]
        return chunk[:-1], chunk[1:]


def encode_splits(tokenizer: Tokenizer, splits: dict[str, str]) -> dict[str, torch.Tensor]:
    """Encode each text of `splits` (e.g. {"train": ..., "valid": ...}) into a 1-D long tensor of token ids."""
    return {name: torch.tensor(tokenizer.encode(text), dtype=torch.long) for name, text in splits.items()}
