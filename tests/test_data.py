"""Data: where each data set is found, verified downloads, the embedded samples, batching."""

import dataclasses
import hashlib
import importlib.util
import io
import os
import urllib.error
import zipfile
from pathlib import Path

import pytest
import torch

from gpt_course import data
from gpt_course.tokenizers import CharTokenizer

REAL = os.environ.get("GPT_COURSE_DATA")  # set in CI to the team's verified copies
PROJECT = Path(data.__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test touches the network, and each test sees the fallback line afresh."""
    monkeypatch.setenv("GPT_COURSE_OFFLINE", "1")
    monkeypatch.setattr(data, "_announced", set())
    monkeypatch.setattr(data, "_download_failed", {})


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """No GPT_COURSE_DATA and an empty cache: only the embedded samples are left."""
    monkeypatch.delenv("GPT_COURSE_DATA", raising=False)
    monkeypatch.setenv("GPT_COURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def titles(text):
    return {a.split("\n")[1] if a.startswith(" \n") else a.split("\n")[0] for a in data.split_articles(text)}


# --- WikiText-2 -------------------------------------------------------------------------------
def test_wikitext_splits_are_nonempty_and_disjoint():
    train, valid, test = (data.load_wikitext2(s) for s in data.WIKITEXT2_SPLITS)
    assert len(train) > 5 * len(valid) > 0 and len(test) > 0
    assert not titles(train) & titles(valid) and not titles(train) & titles(test)
    src = data.resolve_wikitext2("train")
    assert src.origin == ("GPT_COURSE_DATA" if REAL else "embedded sample")
    if REAL:  # this team's copy: train is ~1 MB re-split from the official valid split
        assert 900_000 < len(train.encode("utf-8")) < 1_100_000
        assert len(data.split_articles(test)) == 60


def test_sample_fallback_says_so_once_and_splits_by_article(nowhere, capsys):
    train = data.load_wikitext2("train")
    data.load_wikitext2("train")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert "embedded offline sample" in out[0] and "GPT_COURSE_DATA" in out[0]
    assert data.resolve_wikitext2("valid").is_sample
    sample = (PROJECT / "gpt_course" / "wikitext_sample.txt").read_text(encoding="utf-8")
    parts = [data.split_articles(data.load_wikitext2(s)) for s in data.WIKITEXT2_SPLITS]
    assert sorted(sum(parts, [])) == sorted(data.split_articles(sample))  # a partition of the articles
    n_train, n_valid, n_test = map(len, parts)
    assert n_train == pytest.approx(8 * n_valid, rel=0.2) and n_valid == pytest.approx(n_test, abs=1)
    assert train.startswith(" \n = ")


def test_bad_split_lists_valid_ones():
    with pytest.raises(ValueError, match="train, valid, test"):
        data.load_wikitext2("validation")


@pytest.mark.parametrize("layout", ["wikitext-2-raw/", ""])
def test_explicit_root_accepts_both_layouts(tmp_path, layout):
    f = tmp_path / f"{layout}wiki.valid.raw"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(" \n = Mine = \n \n", encoding="utf-8")
    assert data.load_wikitext2("valid", root=tmp_path) == " \n = Mine = \n \n"
    assert data.resolve_wikitext2("valid", root=tmp_path) == (f, "root")
    with pytest.raises(FileNotFoundError, match="wiki.test.raw"):
        data.load_wikitext2("test", root=tmp_path)


def test_env_var_then_cache(monkeypatch, tmp_path, nowhere):
    env = tmp_path / "env" / "wikitext-2-raw"
    env.mkdir(parents=True)
    (env / "wiki.test.raw").write_text("from env", encoding="utf-8")
    (nowhere / "wikitext-2-raw").mkdir(parents=True)
    (nowhere / "wikitext-2-raw" / "wiki.test.raw").write_text("from cache", encoding="utf-8")
    assert data.load_wikitext2("test") == "from cache"
    assert data.resolve_wikitext2("test").origin == "cache"
    monkeypatch.setenv("GPT_COURSE_DATA", str(tmp_path / "env"))
    assert data.load_wikitext2("test") == "from env"
    assert data.resolve_wikitext2("test").origin == "GPT_COURSE_DATA"


def test_default_cache_is_the_ignored_project_folder(monkeypatch):
    monkeypatch.delenv("GPT_COURSE_CACHE", raising=False)
    assert data.cache_dir() == PROJECT / "data" / "cache"
    assert "data/cache/" in (PROJECT / ".gitignore").read_text()


# --- verified downloads (against local files: file:// URLs and a replaced _fetch) --------------
def _zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


@pytest.fixture
def fake_wikitext(monkeypatch, tmp_path, nowhere):
    """A local 'official' archive whose valid/test checksums are the known ones."""
    monkeypatch.delenv("GPT_COURSE_OFFLINE")
    good = {f"wikitext-2-raw/wiki.{s}.raw": f" \n = Fake {s} = \n \n" for s in data.WIKITEXT2_SPLITS}
    for s in ("valid", "test"):
        key = f"wikitext-2-raw/wiki.{s}.raw"
        monkeypatch.setitem(data.SHA256, key, hashlib.sha256(good[key].encode()).hexdigest())
    archive = tmp_path / "wikitext-2-raw-v1.zip"
    monkeypatch.setattr(data, "WIKITEXT2", dataclasses.replace(data.WIKITEXT2, urls=(archive.as_uri(),)))
    return archive, good, nowhere / "wikitext-2-raw"


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_installs(fake_wikitext):
    archive, good, cache = fake_wikitext
    archive.write_bytes(_zip(good))
    assert data.load_wikitext2("valid") == good["wikitext-2-raw/wiki.valid.raw"]
    assert data.resolve_wikitext2("test").origin == "cache"  # installed once, found in the cache after
    assert leftovers(cache) == ["wiki.test.raw", "wiki.train.raw", "wiki.valid.raw"]  # no temporary files


def test_tampered_download_is_rejected_and_leaves_nothing(fake_wikitext):
    archive, good, cache = fake_wikitext
    archive.write_bytes(_zip({**good, "wikitext-2-raw/wiki.test.raw": " \n = Changed = \n \n"}))
    with pytest.raises(data.DataIntegrityError, match="SHA-256"):
        data.load_wikitext2("train")
    assert leftovers(cache) == []
    archive.write_bytes(b"this is not a zip file")
    with pytest.raises(data.DataIntegrityError, match="not the expected"):
        data.load_wikitext2("train")
    assert leftovers(cache) == []


def test_network_failure_falls_back_quickly_and_once(fake_wikitext, monkeypatch, capsys):
    calls = []

    def no_network(url, dest, timeout=data.DOWNLOAD_TIMEOUT_S):
        calls.append(url)
        Path(dest).write_bytes(b"half a downl")  # the connection dropped mid-way
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(data, "_fetch", no_network)
    for s in data.WIKITEXT2_SPLITS:
        assert data.resolve_wikitext2(s).is_sample
    assert len(calls) == 1  # a failed download is not retried for every split
    out = capsys.readouterr().out
    assert "download failed" in out and "name resolution" in out
    assert leftovers(fake_wikitext[2]) == []


def test_plain_file_download_is_verified(monkeypatch, tmp_path, nowhere):
    monkeypatch.delenv("GPT_COURSE_OFFLINE")
    src = tmp_path / "input.txt"
    src.write_text("FIRST VOICE:\nHello.\n", encoding="utf-8")
    monkeypatch.setattr(data, "TINYSHAKESPEARE", dataclasses.replace(data.TINYSHAKESPEARE, urls=(src.as_uri(),)))
    monkeypatch.setitem(data.SHA256, "tinyshakespeare/input.txt", "0" * 64)
    with pytest.raises(data.DataIntegrityError, match="expected 0000"):
        data.load_tinyshakespeare()
    assert leftovers(nowhere / "tinyshakespeare") == []
    monkeypatch.setitem(data.SHA256, "tinyshakespeare/input.txt", hashlib.sha256(src.read_bytes()).hexdigest())
    assert data.load_tinyshakespeare() == "FIRST VOICE:\nHello.\n"
    assert data.resolve_tinyshakespeare().origin == "cache"


# --- SMS Spam Collection and tiny-shakespeare -------------------------------------------------
def test_sms_spam_labels_and_balance():
    rows = data.load_sms_spam()
    labels = [label for label, _ in rows]
    assert set(labels) == {"ham", "spam"} and all(text for _, text in rows)
    assert 0.1 < labels.count("spam") / len(rows) < 0.3
    if REAL:
        assert (len(rows), labels.count("spam")) == (5574, 747)


def test_sms_sample(nowhere):
    rows = data.load_sms_spam()
    assert data.resolve_sms_spam().is_sample
    assert len(rows) == 300 and sum(label == "spam" for label, _ in rows) == 60
    assert len({text for _, text in rows}) == 300


def test_tinyshakespeare():
    text = data.load_tinyshakespeare()
    if REAL:
        assert len(text) == 1_115_394 and text.startswith("First Citizen:")
    assert text.count(":\n") > 300  # speaker lines, as the char-level notebooks expect


def test_verse_sample(nowhere):
    text = data.load_tinyshakespeare()
    assert data.resolve_tinyshakespeare().is_sample
    assert 40_000 < len(text) < 60_000 and text.count(":\n") > 300


# --- the embedded samples ---------------------------------------------------------------------
def _make_samples_module():
    spec = importlib.util.spec_from_file_location("make_samples", PROJECT / "data" / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_samples_are_reproducible_from_the_script(tmp_path):
    _make_samples_module().main(["--out", str(tmp_path)])
    for name in ("wikitext_sample.txt", "sms_sample.txt", "verse_drama_sample.txt"):
        assert (tmp_path / name).read_bytes() == (PROJECT / "gpt_course" / name).read_bytes(), name


def test_readme_lists_each_sample_with_its_checksum():
    readme = (PROJECT / "data" / "README.md").read_text(encoding="utf-8")
    for name in ("wikitext_sample.txt", "sms_sample.txt", "verse_drama_sample.txt"):
        blob = (PROJECT / "gpt_course" / name).read_bytes()
        assert hashlib.sha256(blob).hexdigest() in readme, f"update data/README.md for {name}"
        assert f"{len(blob):,} bytes" in readme, f"update the size of {name} in data/README.md"


def test_wikitext_sample_has_the_wikitext_raw_format():
    text = (PROJECT / "gpt_course" / "wikitext_sample.txt").read_text(encoding="utf-8")
    assert 150_000 < len(text.encode("utf-8")) < 300_000
    assert all(line.startswith(" ") for line in text.split("\n")[:-1])  # blank lines are " "
    for marker in (" @,@ ", " @.@ ", " @-@ ", " = = ", " , ", " . ", " 's "):
        assert marker in text
    assert len(data.split_articles(text)) > 150


@pytest.mark.skipif(not REAL, reason="needs GPT_COURSE_DATA to compare against the real corpora")
def test_samples_copy_no_sentences_from_the_real_corpora():
    def shingles(text, n):
        words = text.split()
        return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}

    root = Path(REAL)
    real = "".join((root / "wikitext-2-raw" / f"wiki.{s}.raw").read_text(encoding="utf-8")
                   for s in data.WIKITEXT2_SPLITS)
    ours = (PROJECT / "gpt_course" / "wikitext_sample.txt").read_text(encoding="utf-8")
    assert not shingles(ours, 10) & shingles(real, 10)
    sms_real = (root / "sms_spam" / "SMSSpamCollection").read_text(encoding="utf-8")
    sms_ours = (PROJECT / "gpt_course" / "sms_sample.txt").read_text(encoding="utf-8")
    assert not shingles(sms_ours, 6) & shingles(sms_real, 6)


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


def test_get_batch_errors_speak_to_the_learner():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"has 16 tokens, but block_size=16 needs at least 17"):
        data.get_batch(torch.arange(16), 16, 4, g)
    with pytest.raises(ValueError, match="1-D"):
        data.get_batch(torch.zeros(4, 40, dtype=torch.long), 8, 2, g)
    with pytest.raises(ValueError, match="integers"):
        data.get_batch(torch.rand(100), 8, 2, g)


def test_token_dataset_blocks():
    ds = data.TokenDataset(torch.arange(100), block_size=10)
    assert len(ds) == 9  # 9 full blocks whose targets (one step ahead) stay inside the stream
    x, y = ds[3]
    assert torch.equal(x, torch.arange(30, 40)) and torch.equal(y, torch.arange(31, 41))
    assert torch.equal(ds[-1][0], ds[8][0])
    with pytest.raises(IndexError):
        ds[9]
    assert len(data.TokenDataset(torch.arange(100), 10, stride=5)) == 18
    xb, yb = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 10) and torch.equal(yb, xb + 1)


def test_encode_splits_round_trips():
    splits = {"train": "the river and the town", "valid": "the town"}
    tok = CharTokenizer.from_text(splits["train"])
    enc = data.encode_splits(tok, splits)
    assert set(enc) == {"train", "valid"} and enc["train"].dtype == torch.long
    assert tok.decode(enc["valid"]) == "the town"
