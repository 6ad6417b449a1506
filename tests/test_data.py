"""Data: the bundled files and their checksums, the derived course split, the verified official download,
batching."""

import hashlib
import io
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
import torch

from gpt_course import data

PROJECT = Path(data.__file__).resolve().parent.parent
BUNDLED = ("wikitext-2-raw/wiki.valid.raw", "wikitext-2-raw/wiki.test.raw", "sms_spam/SMSSpamCollection",
           "tinyshakespeare/input.txt")


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """Each test reads the files afresh (the per-process cache of verified files is emptied)."""
    monkeypatch.delenv("GPT_COURSE_DATA", raising=False)
    data._read_bundled.cache_clear()
    yield
    data._read_bundled.cache_clear()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a URL or a socket fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"the network was touched: {args[:1]}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


# --- the bundled files ------------------------------------------------------------------------
@pytest.mark.parametrize("key", BUNDLED)
def test_bundled_files_are_the_verified_originals(key):
    blob = (PROJECT / "data" / key).read_bytes()
    assert hashlib.sha256(blob).hexdigest() == data.SHA256[key]
    readme = (PROJECT / "data" / "README.md").read_text(encoding="utf-8")
    assert data.SHA256[key] in readme and f"{len(blob):,}" in readme, f"data/README.md must list {key}"


def test_git_keeps_the_data_bytes_as_they_are():
    """A checkout on Windows with core.autocrlf must not turn LF into CRLF (the checksums would fail)."""
    attributes = (PROJECT / ".gitattributes").read_text(encoding="utf-8")
    for folder in ("wikitext-2-raw", "sms_spam", "tinyshakespeare"):
        assert f"data/{folder}/** -text" in attributes


def test_default_loaders_never_touch_the_network(no_network):
    for split in data.WIKITEXT2_SPLITS:
        assert data.load_wikitext2(split)
        assert data.resolve_wikitext2(split).origin == "bundled"
    rows = data.load_sms_spam()
    assert (len(rows), sum(label == "spam" for label, _ in rows)) == (5574, 747)
    text = data.load_tinyshakespeare()
    assert len(text) == 1_115_394 and text.startswith("First Citizen:")


def test_loaders_print_nothing_to_stdout():
    code = ("from gpt_course import data\n"
            "for s in data.WIKITEXT2_SPLITS: data.load_wikitext2(s)\n"
            "data.load_sms_spam(); data.load_tinyshakespeare()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""


# --- the course split -------------------------------------------------------------------------
def test_course_split_is_byte_identical_to_the_text_the_notebooks_ran_on():
    expected = {  # the SHA-256 of the files every committed notebook output was computed from
        "train": ("b5ace5c8d260937d5a4d614ed104ac2d05e1313ca95d63a10643c74f5d2bef5e", 1_019_909, 54),
        "valid": ("2e86bc0819289527bc8449014cc312b349e1eed15da0d87639bc6fd9decd76b3", 126_939, 6),
        "test": ("173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08", 1_290_590, 60),
    }
    for split, (sha, size, articles) in expected.items():
        blob = data.load_wikitext2(split).encode("utf-8")
        assert (hashlib.sha256(blob).hexdigest(), len(blob)) == (sha, size)
        assert len(data.split_articles(blob.decode("utf-8"))) == articles
    assert data.COURSE_SPLIT_SHA256 == {split: sha for split, (sha, _, _) in expected.items()}


def test_course_split_is_made_of_the_official_valid_articles():
    official = (PROJECT / "data" / "wikitext-2-raw" / "wiki.valid.raw").read_text(encoding="utf-8")
    train, valid = data.load_wikitext2("train"), data.load_wikitext2("valid")
    assert official.startswith(train) and train.startswith(" \n = Homarus gammarus = ")
    assert " \n" + official[len(train):] == valid and valid.startswith(" \n = Where the Streets Have No Name")
    titles = lambda text: {a for a in data.split_articles(text)}  # noqa: E731
    assert not titles(train) & titles(valid)
    assert data.resolve_wikitext2("valid").derivation == "official valid split, articles 55-60"


def test_bad_split_or_corpus_says_what_is_valid():
    with pytest.raises(ValueError, match="train, valid, test"):
        data.load_wikitext2("validation")
    with pytest.raises(ValueError, match="'course'.*'official'"):
        data.load_wikitext2("train", corpus="wikitext-103")


# --- a changed or missing bundled file ----------------------------------------------------------
@pytest.fixture
def copy_of_data(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    for key in BUNDLED:
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROJECT / "data" / key, folder / key)
    monkeypatch.setenv("GPT_COURSE_DATA", str(folder))
    return folder


def test_a_copy_named_by_gpt_course_data_is_used(copy_of_data):
    assert data.load_wikitext2("train").startswith(" \n = Homarus gammarus")
    assert data.resolve_wikitext2("test") == (copy_of_data / "wikitext-2-raw" / "wiki.test.raw", "GPT_COURSE_DATA",
                                              "official test split, whole file")


def test_a_changed_file_is_refused_with_the_fix(copy_of_data):
    path = copy_of_data / "sms_spam" / "SMSSpamCollection"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # what a line-ending conversion does
    with pytest.raises(data.DataIntegrityError, match="SHA-256.*git checkout -- data/"):
        data.load_sms_spam()


def test_a_missing_file_says_where_the_data_live(copy_of_data):
    (copy_of_data / "tinyshakespeare" / "input.txt").unlink()
    with pytest.raises(FileNotFoundError, match="data/ folder.*GPT_COURSE_DATA"):
        data.load_tinyshakespeare()


# --- the official WikiText-2: one explicit choice away, verified before it is cached -------------
def _zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in files.items():
            zf.writestr(f"wikitext-2-raw/{name}", blob)
    return buf.getvalue()


def official_files():
    """An archive's members: the real valid and test files, and a train file with the official line count."""
    read = lambda s: (PROJECT / "data" / "wikitext-2-raw" / f"wiki.{s}.raw").read_bytes()  # noqa: E731
    return {"wiki.train.raw": b" \n = Train = \n" * (data.OFFICIAL_TRAIN_LINES // 2),
            "wiki.valid.raw": read("valid"), "wiki.test.raw": read("test")}


@pytest.fixture
def mirror(monkeypatch, tmp_path):
    """The mirrors serve `served["archive"]`; `fetched` records the URLs asked for. Cache in tmp_path."""
    monkeypatch.delenv("GPT_COURSE_OFFLINE", raising=False)
    monkeypatch.setenv("GPT_COURSE_CACHE", str(tmp_path / "cache"))
    served, fetched = {}, []

    def fetch(url, dest, timeout=None):
        fetched.append(url)
        Path(dest).write_bytes(served["archive"])

    monkeypatch.setattr(data, "_fetch", fetch)
    return served, fetched, tmp_path / "cache" / "wikitext-2-raw"


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_official_corpus_is_downloaded_verified_and_cached(mirror, capsys):
    served, fetched, cache = mirror
    served["archive"] = _zip(official_files())
    train = data.load_wikitext2("train", corpus="official")
    assert train.count("\n") == data.OFFICIAL_TRAIN_LINES
    assert fetched == [data.OFFICIAL_WIKITEXT2_URLS[0]]
    assert leftovers(cache) == ["wiki.test.raw", "wiki.train.raw", "wiki.valid.raw"]  # no temporary files
    assert data.resolve_wikitext2("valid", corpus="official").origin == "cache"
    assert data.load_wikitext2("test", corpus="official") == data.load_wikitext2("test")
    assert len(fetched) == 1  # downloaded once
    captured = capsys.readouterr()
    assert captured.out == "" and "downloading the official WikiText-2" in captured.err


@pytest.mark.parametrize("tamper", ["valid", "test", "train lines", "not a zip", "member missing"])
def test_a_tampered_archive_is_rejected_and_nothing_is_cached(mirror, tamper):
    served, _, cache = mirror
    files = official_files()
    if tamper in ("valid", "test"):
        files[f"wiki.{tamper}.raw"] = files[f"wiki.{tamper}.raw"].replace(b" the ", b" a ", 1)
    elif tamper == "train lines":
        files["wiki.train.raw"] += b" extra line \n"
    elif tamper == "member missing":
        del files["wiki.valid.raw"]
    served["archive"] = b"<html>moved</html>" if tamper == "not a zip" else _zip(files)
    with pytest.raises(data.DataIntegrityError, match="Nothing was installed"):
        data.load_wikitext2("train", corpus="official")
    assert leftovers(cache) == []


def test_official_corpus_offline_or_unreachable_says_how_to_get_it(mirror, monkeypatch):
    monkeypatch.setenv("GPT_COURSE_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="downloads are off.*wiki.train.raw"):
        data.load_wikitext2("train", corpus="official")
    monkeypatch.delenv("GPT_COURSE_OFFLINE")

    def unreachable(url, dest, timeout=None):
        Path(dest).write_bytes(b"half a downl")  # the connection dropped mid-way
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(data, "_fetch", unreachable)
    with pytest.raises(RuntimeError, match="any mirror.*name resolution"):
        data.load_wikitext2("valid", corpus="official")
    assert leftovers(mirror[2]) == []


def test_default_cache_is_the_ignored_project_folder(monkeypatch):
    monkeypatch.delenv("GPT_COURSE_CACHE", raising=False)
    assert data.cache_dir() == PROJECT / "data" / "cache"
    assert "data/cache/" in (PROJECT / ".gitignore").read_text()


# --- split_articles ---------------------------------------------------------------------------
def test_split_articles_finds_titles_not_sections_or_formulas():
    text = (" \n = Alpha = \n \n Text . \n \n = = Section = = \n \n More . \n"
            " where R \n = 1 ohm and C = \n 1 farad . \n \n \n = Beta = \n \n End . \n")
    arts = data.split_articles(text)
    assert "".join(arts) == text
    assert [a.strip().split("\n")[0].strip() for a in arts] == ["= Alpha =", "= Beta ="]
    assert data.split_articles("") == []


# --- batching ---------------------------------------------------------------------------------
def test_get_batch_targets_are_inputs_shifted_by_one():
    stream = torch.arange(1000)
    x, y = data.get_batch(stream, block_size=16, batch_size=8, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16) and x.dtype == torch.long
    assert torch.equal(y, x + 1)  # on 0, 1, 2, ... the next token is the input plus one
    assert torch.equal(x[:, 1:] - x[:, :-1], torch.ones(8, 15, dtype=torch.long))  # contiguous windows
    x2, _ = data.get_batch(stream, 16, 8, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)  # same seed, same batch
    x, y = data.get_batch(torch.arange(17), 16, 4, torch.Generator().manual_seed(1))
    assert torch.equal(x[0], torch.arange(16)) and torch.equal(y[0], torch.arange(1, 17))


def test_copy_rows_repeat_a_random_run_and_score_only_its_rereadings():
    from gpt_course.model import IGNORE_INDEX

    stream = torch.arange(1000, 2000)
    x, y = data.get_batch(stream, 32, 6, torch.Generator().manual_seed(0))
    cx, cy = data.add_copy_rows(x, y, stream, 4, torch.Generator().manual_seed(1), min_len=3, max_len=10)
    assert torch.equal(cx[4:], x[4:]) and torch.equal(cy[4:], y[4:])  # the other rows untouched
    assert torch.equal(x, data.get_batch(stream, 32, 6, torch.Generator().manual_seed(0))[0])  # inputs not modified
    for r in range(4):
        scored = (cy[r] != IGNORE_INDEX).nonzero().flatten()
        length = int(scored[0]) + 1  # the first reading's targets are not scored
        assert 3 <= length <= 10 and bool((cy[r, length - 1:] != IGNORE_INDEX).all())
        assert torch.equal(cx[r, length:], cx[r, :-length])  # the run, read again and again
        assert torch.equal(cy[r, length - 1:-1], cx[r, length:])  # targets: the next token of the repeated run
        assert bool(((cx[r] >= 1000) & (cx[r] < 2000)).all())  # tokens drawn from the stream
    tx, ty = data.add_copy_rows(x, y, stream, 2, torch.Generator().manual_seed(2), source="text", max_len=20)
    for r in range(2):  # a passage of the text, in order, every target scored
        length = next(n for n in range(16, 21) if torch.equal(tx[r, n:], tx[r, :-n]))
        assert torch.equal(tx[r, 1:length] - tx[r, : length - 1], torch.ones(length - 1, dtype=torch.long))
        assert torch.equal(ty[r, :-1], tx[r, 1:]) and bool((ty[r] != IGNORE_INDEX).all())
    assert torch.equal(tx[2:], x[2:])
    with pytest.raises(ValueError, match="source='book' is unknown"):
        data.add_copy_rows(x, y, stream, 1, None, source="book")
    with pytest.raises(ValueError, match="n_rows=7 must be between 0 and the batch size 6"):
        data.add_copy_rows(x, y, stream, 7, None)
    with pytest.raises(ValueError, match="min_len <= max_len"):
        data.add_copy_rows(x, y, stream, 1, None, min_len=20, max_len=10)


def test_get_batch_errors_speak_to_the_learner():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"has 16 tokens, but block_size=16 needs at least 17"):
        data.get_batch(torch.arange(16), 16, 4, g)
    with pytest.raises(ValueError, match="1-D"):
        data.get_batch(torch.zeros(4, 40, dtype=torch.long), 8, 2, g)
    with pytest.raises(ValueError, match="integers"):
        data.get_batch(torch.rand(100), 8, 2, g)
