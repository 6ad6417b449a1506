"""The course in other languages: notebooks built from the English ones and a translation file per notebook.

The English notebooks are the one source of truth. A translated notebook (`notebooks/zh/NN_….ipynb`) is the
English notebook with every markdown cell replaced by its translation; code cells, their outputs and all metadata
are copied unchanged. A translation file (`i18n/zh/NN_….json`) holds, per markdown cell id, the English text it
translates, that text's SHA-256 and the translation, so a changed English cell is found at once.

    python -m gpt_course.translation check                 # is every edition complete and up to date? (exit 1 if not)
    python -m gpt_course.translation build                 # write notebooks/zh/ from notebooks/ and i18n/zh/
    python -m gpt_course.translation todo --out todo/      # a work list per notebook: new and changed cells
    python -m gpt_course.translation merge todo/*.json     # take the finished work lists into i18n/zh/

A work list entry shows the English now (`en`), and for a changed cell the English and translation before
(`en_before`, `zh_before`); the translator fills in `zh` and runs `merge`, which records the hash of `en`.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
I18N = ROOT / "i18n"
LANGUAGES = ("zh",)

_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[A-Za-z]{3,}")
_LINK = re.compile(r"\]\(([^)\s]+)")
_HEADING = re.compile(r"^(#{1,6})\s", re.M)


class TranslationError(ValueError):
    """A translation that cannot be used: missing, stale, or not matching its English cell."""


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cell_text(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def english_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def translation_path(notebook: Path, lang: str) -> Path:
    return I18N / lang / f"{notebook.stem}.json"


def edition_path(notebook: Path, lang: str) -> Path:
    return NOTEBOOKS / lang / notebook.name


def load_translation(notebook: Path, lang: str) -> dict:
    path = translation_path(notebook, lang)
    if not path.exists():
        return {"notebook": notebook.name, "language": lang, "cells": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def save_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def needs_translation(english: str) -> bool:
    """A markdown cell with words in it (not only a formula, a rule or an image)."""
    return len(_WORD.findall(re.sub(r"\$[^$]*\$|`[^`]*`|\]\([^)]*\)", "", english))) >= 2


def problems_of_entry(english: str, entry: dict | None) -> list[str]:
    """What is wrong with one cell's translation (empty when it is usable)."""
    if entry is None or not entry.get("zh"):
        return ["not translated"]
    if entry.get("source_sha256") != source_hash(english):
        return ["stale: the English cell changed after it was translated"]
    zh, problems = entry["zh"], []
    if needs_translation(english) and not _CJK.search(zh):
        problems.append("untranslated: no Chinese text in it")
    if sorted(_LINK.findall(english)) != sorted(_LINK.findall(zh)):
        problems.append(f"links differ from the English: {sorted(_LINK.findall(english))} vs {sorted(_LINK.findall(zh))}")
    if _HEADING.findall(english) != _HEADING.findall(zh):
        problems.append("headings differ from the English (their levels decide the slides)")
    if english.count("$$") != zh.count("$$"):
        problems.append("display maths ($$ … $$) differs from the English")
    return problems


def problems(notebook: Path, lang: str) -> dict[str, list[str]]:
    """Every markdown cell of `notebook` whose translation is missing, stale or malformed, by cell id."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = load_translation(notebook, lang)["cells"]
    found = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            issues = problems_of_entry(cell_text(cell), cells.get(cell["id"]))
            if issues:
                found[cell["id"]] = issues
    return found


def _relink(text: str) -> str:
    """Links relative to notebooks/ made relative to notebooks/<lang>/ (a sibling notebook stays a sibling)."""
    def fix(match: re.Match) -> str:
        target = match.group(1)
        if re.match(r"[a-z]+:|#|/", target) or ("/" not in target and target.split("#")[0].endswith(".ipynb")):
            return match.group(0)
        return "](../" + target
    return _LINK.sub(fix, text)


def build_edition(notebook: Path, lang: str) -> dict:
    """The translated notebook, in memory. Raises TranslationError naming every cell that is not ready."""
    found = problems(notebook, lang)
    if found:
        lines = [f"  cell {cid}: {'; '.join(why)}" for cid, why in found.items()]
        raise TranslationError(
            f"{notebook.name}: {len(found)} markdown cell(s) cannot be built into the '{lang}' edition:\n"
            + "\n".join(lines)
            + f"\nWrite a work list with 'python -m gpt_course.translation todo --lang {lang} --out todo/', "
            "fill in its 'zh' fields and 'merge' it.")
    nb = copy.deepcopy(json.loads(notebook.read_text(encoding="utf-8")))
    cells = load_translation(notebook, lang)["cells"]
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = _relink(cells[cell["id"]]["zh"]).splitlines(keepends=True)
    nb["metadata"]["gpt_course"] = {"language": lang, "translated_from": f"../{notebook.name}"}
    return nb


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def todo(notebook: Path, lang: str) -> dict:
    """The work list of one notebook: every markdown cell whose translation is missing, stale or malformed."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = load_translation(notebook, lang)["cells"]
    found = problems(notebook, lang)
    work = {}
    for cell in nb["cells"]:
        if cell["id"] in found:
            old = cells.get(cell["id"]) or {}
            item = {"en": cell_text(cell), "problems": found[cell["id"]], "zh": ""}
            if old.get("zh"):
                item.update(en_before=old.get("en", ""), zh_before=old["zh"])
                if old.get("source_sha256") == source_hash(cell_text(cell)):
                    item["zh"] = old["zh"]  # only malformed: start from it
            work[cell["id"]] = item
    return {"notebook": notebook.name, "language": lang, "cells": work}


def merge(worklist: Path) -> int:
    """Take a finished work list into its translation file; returns how many cells it took."""
    work = json.loads(worklist.read_text(encoding="utf-8"))
    notebook = NOTEBOOKS / work["notebook"]
    if not notebook.exists():
        raise TranslationError(f"{worklist}: its notebook {work['notebook']} is not in {NOTEBOOKS}")
    lang = work["language"]
    english = {c["id"]: cell_text(c) for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
               if c["cell_type"] == "markdown"}
    data = load_translation(notebook, lang)
    taken = 0
    for cid, item in work["cells"].items():
        if not item.get("zh"):
            continue
        if english.get(cid) != item["en"]:
            raise TranslationError(f"{worklist}: cell {cid}'s English changed since the work list was written; "
                                   "write a new work list")
        data["cells"][cid] = {"en": item["en"], "source_sha256": source_hash(item["en"]), "zh": item["zh"]}
        taken += 1
    data["cells"] = {cid: entry for cid, entry in data["cells"].items() if cid in english}  # deleted cells go
    save_json(translation_path(notebook, lang), data)
    return taken


def check(lang: str) -> list[str]:
    """Everything that keeps the edition from being complete and current (empty when it is)."""
    report = []
    for notebook in english_notebooks():
        try:
            built = dumps(build_edition(notebook, lang))
        except TranslationError as err:
            report.append(str(err))
            continue
        path = edition_path(notebook, lang)
        if not path.exists() or path.read_text(encoding="utf-8") != built:
            report.append(f"{path.relative_to(ROOT)} is out of date: run 'python -m gpt_course.translation build'")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("check", "build", "todo"):
        p = sub.add_parser(name)
        p.add_argument("--lang", default="zh", choices=LANGUAGES)
        p.add_argument("notebooks", nargs="*", help="notebook names or NN prefixes (default: all)")
        if name == "todo":
            p.add_argument("--out", type=Path, required=True, help="folder for the work lists")
    p = sub.add_parser("merge")
    p.add_argument("worklists", nargs="+", type=Path)
    args = parser.parse_args(argv)

    if args.command == "merge":
        for path in args.worklists:
            print(f"{path}: {merge(path)} cell(s) taken")
        return 0
    chosen = [nb for nb in english_notebooks()
              if not args.notebooks or any(nb.name.startswith(n) for n in args.notebooks)]
    if args.command == "check":
        report = check(args.lang)
        print("\n".join(report) if report else f"the '{args.lang}' edition is complete and up to date")
        return 1 if report else 0
    if args.command == "todo":
        for notebook in chosen:
            work = todo(notebook, args.lang)
            if work["cells"]:
                save_json(args.out / f"{notebook.stem}.json", work)
                print(f"{notebook.name}: {len(work['cells'])} cell(s) to translate")
        return 0
    failed = 0
    for notebook in chosen:
        try:
            text = dumps(build_edition(notebook, args.lang))
        except TranslationError as err:
            print(err, file=sys.stderr)
            failed += 1
            continue
        edition_path(notebook, args.lang).parent.mkdir(parents=True, exist_ok=True)
        edition_path(notebook, args.lang).write_text(text, encoding="utf-8")
    print(f"built {len(chosen) - failed} of {len(chosen)} notebook(s) in notebooks/{args.lang}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
