"""The Chinese edition: built from the English notebooks and the translation files, complete, current, and drawable."""
import json
import re
import warnings

import matplotlib
import pytest

from gpt_course import translation as tr

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ENGLISH = tr.english_notebooks()
IDS = [p.name[:2] for p in ENGLISH]


def test_every_notebook_has_a_chinese_edition():
    assert len(ENGLISH) == 21
    missing = [p.name for p in ENGLISH if not tr.edition_path(p, "zh").exists()]
    assert not missing, f"no Chinese edition of {missing}: python -m gpt_course.translation build"
    extra = {p.name for p in (tr.NOTEBOOKS / "zh").glob("*.ipynb")} - {p.name for p in ENGLISH}
    assert not extra, f"Chinese notebooks without an English one: {extra}"


@pytest.mark.parametrize("notebook", ENGLISH, ids=IDS)
def test_every_markdown_cell_is_translated_from_the_current_english(notebook):
    found = tr.problems(notebook, "zh")
    assert not found, "\n".join(f"{notebook.name} cell {cid}: {'; '.join(why)}" for cid, why in found.items()) + \
        "\n(python -m gpt_course.translation todo --out todo/, translate, merge, build)"


@pytest.mark.parametrize("notebook", ENGLISH, ids=IDS)
def test_the_chinese_notebook_is_the_english_one_with_translated_prose(notebook):
    en = json.loads(notebook.read_text(encoding="utf-8"))
    zh = json.loads(tr.edition_path(notebook, "zh").read_text(encoding="utf-8"))
    assert [c["id"] for c in zh["cells"]] == [c["id"] for c in en["cells"]], "cells added, removed or reordered"
    for a, b in zip(en["cells"], zh["cells"]):
        assert a["cell_type"] == b["cell_type"]
        assert a.get("metadata") == b.get("metadata"), f"cell {a['id']}: metadata differ (slides, tags)"
        if a["cell_type"] == "code":
            assert b["source"] == a["source"], f"code cell {a['id']} differs from the English notebook"
            assert b["outputs"] == a["outputs"], f"code cell {a['id']}: outputs differ from the English notebook"
    # and the file is exactly what the build command writes (nothing edited by hand)
    assert tr.edition_path(notebook, "zh").read_text(encoding="utf-8") == tr.dumps(tr.build_edition(notebook, "zh"))


def test_a_changed_english_cell_or_an_untranslated_one_is_caught():
    english = "## 4.1 Queries and keys\n\nEvery token has a query."
    good = {"en": english, "source_sha256": tr.source_hash(english), "zh": "## 4.1 查询与键\n\n每个词元都有一个查询。"}
    assert tr.problems_of_entry(english, good) == []
    assert tr.problems_of_entry(english + " And a key.", good)[0].startswith("stale")
    assert tr.problems_of_entry(english, {**good, "zh": english}) == ["untranslated: no Chinese text in it"]
    assert "not translated" in tr.problems_of_entry(english, None)
    assert any("headings" in p for p in tr.problems_of_entry(english, {**good, "zh": "### 4.1 查询与键\n\n每个词元。"}))
    linked = "See [notebook 10](10_pretraining.ipynb) for the run."
    wrong = {"en": linked, "source_sha256": tr.source_hash(linked), "zh": "见[笔记本 10](10_pretrain.ipynb)。"}
    assert any("links" in p for p in tr.problems_of_entry(linked, wrong))


def test_build_refuses_a_stale_translation_and_says_how_to_fix_it(tmp_path, monkeypatch):
    nb = {"cells": [{"cell_type": "markdown", "id": "abc12345", "metadata": {}, "source": ["# 1 A title\n", "Words here."]},
                    {"cell_type": "code", "id": "def67890", "metadata": {}, "source": ["x = 1"], "outputs": [],
                     "execution_count": None}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "notebooks" / "01_demo.ipynb"
    path.write_text(json.dumps(nb))
    monkeypatch.setattr(tr, "NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setattr(tr, "I18N", tmp_path / "i18n")
    with pytest.raises(tr.TranslationError, match="not translated.*\n.*translation todo"):
        tr.build_edition(path, "zh")
    work = tr.todo(path, "zh")
    work["cells"]["abc12345"]["zh"] = "# 1 标题\n这里是文字。"
    (tmp_path / "work.json").write_text(json.dumps(work, ensure_ascii=False))
    assert tr.merge(tmp_path / "work.json") == 1
    built = tr.build_edition(path, "zh")
    assert built["cells"][0]["source"] == ["# 1 标题\n", "这里是文字。"] and built["cells"][1]["source"] == ["x = 1"]
    nb["cells"][0]["source"] = ["# 1 A new title\n", "Words here."]  # the English changes: the build must refuse
    path.write_text(json.dumps(nb))
    with pytest.raises(tr.TranslationError, match="stale"):
        tr.build_edition(path, "zh")
    assert tr.todo(path, "zh")["cells"]["abc12345"]["zh_before"] == "# 1 标题\n这里是文字。"


def test_links_outside_the_notebooks_folder_are_rewritten_for_the_edition_folder():
    text = "[a](10_pretraining.ipynb) [b](../docs/teaching.md) [c](https://x.org) [d](#top) [e](img/a.png)"
    assert tr._relink(text) == ("[a](10_pretraining.ipynb) [b](../../docs/teaching.md) [c](https://x.org) [d](#top) "
                                "[e](../img/a.png)")


def _drawn_warnings(text: str) -> list[str]:
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.set_title(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


def test_chinese_text_in_a_figure_draws_without_missing_glyphs():
    from gpt_course import plotting

    # every Chinese character of the edition's headings and of the glossary, in one title
    chars = set()
    for notebook in ENGLISH:
        for entry in tr.load_translation(notebook, "zh")["cells"].values():
            for line in entry["zh"].splitlines():
                if line.startswith("#"):
                    chars |= set(re.findall(r"[\u4e00-\u9fff]", line))
    text = "".join(sorted(chars)) + " 自注意力 (self-attention) −0.5 ␣"
    saved = dict(plt.rcParams)
    try:
        plt.rcParams["font.family"] = ["DejaVu Sans"]
        assert _drawn_warnings(text), "the default font has no Chinese glyphs: this check could not fail"
        family = plotting.use_chinese_font(text)
        assert _drawn_warnings(text) == [], f"{family} lacks glyphs"
    finally:
        plt.rcParams.update(saved)


def test_the_chinese_readme_links_every_chinese_notebook():
    readme = (tr.ROOT / "README.zh.md").read_text(encoding="utf-8")
    links = set(re.findall(r"\]\((notebooks/zh/[^)]+\.ipynb)\)", readme))
    assert links == {f"notebooks/zh/{p.name}" for p in ENGLISH}
    assert "README.zh.md" in (tr.ROOT / "README.md").read_text(encoding="utf-8")
