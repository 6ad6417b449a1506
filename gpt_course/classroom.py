"""For teachers: a student edition of the notebooks (no solutions) and a grader for returned notebooks.

    python -m gpt_course.classroom student [--out student]       # notebooks without the folded solutions
    python -m gpt_course.classroom grade student/04_*.ipynb      # run a student's notebook, report each exercise
    python -m gpt_course.classroom grade --json work/*.ipynb     # the same as JSON, for a grade book
    python -m gpt_course.classroom slides [--check]              # (re)write the slide metadata of the notebooks
    python -m gpt_course.classroom offline-kit --out kit         # wheels for a classroom without internet

The student edition keeps every notebook's prose, code and outputs, removes each folded solution, and leaves
the exercise cells as scaffolds (`raise NotImplementedError` and a `check(...)` line) with empty outputs and
nbgrader metadata (`grade_id` = the exercise's name), so nbgrader can collect them too. The grader executes
a notebook in a fresh kernel (a cell that fails does not stop it) and reads each `check(...)` verdict.

Every notebook carries slide metadata, so that JupyterLab presents it as a slideshow with `jupyterlab-slideshow`
(installed with the course: the deck button at the right of the notebook's toolbar; Space and Shift+Space move,
the widgets stay live): each `#`/`##` heading opens a slide, each `###` heading and each explanation that follows
a code cell opens a sub-slide (one idea and the cells that show it), and the folded solutions are left out.
RISE reads the same metadata, but jupyterlab-rise 0.43 does not draw ipywidgets 8 (its slides show the widgets'
still pictures). `slides --check` fails when a notebook's metadata no longer follows these rules.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOLUTION_START = "<details><summary>Solution</summary>"
STUDENT_NOTE = ("> **Student edition.** The exercises' solutions are left out: `check(...)` tells you when your "
                "answer is right, and what is wrong when it is not.")
_CHECK = re.compile(r'check\("([^"]+)",\s*(.+?)\)\s*;?\s*$', re.S)
_SOLUTION_CODE = re.compile(r"```python\n(.*?)```", re.S)


def exercise_name(cell) -> str | None:
    """The name of the exercise a code cell checks (`check("04.causal_mask", ...)` on its last line), or None."""
    if cell.cell_type != "code":
        return None
    m = _CHECK.search(cell.source)
    return m.group(1) if m else None


def is_solution(cell) -> bool:
    return cell.cell_type == "markdown" and cell.source.lstrip().startswith(SOLUTION_START)


def exercises(nb) -> list[str]:
    """The exercise names of a notebook, in order."""
    return [name for name in map(exercise_name, nb.cells) if name]


def student_edition(nb):
    """A copy of `nb` without folded solutions; exercise cells cleared and marked for nbgrader."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # a deep copy
    nb.cells = [cell for cell in nb.cells if not is_solution(cell)]
    nb.cells[0].source = nb.cells[0].source.rstrip("\n") + "\n\n" + STUDENT_NOTE
    for cell in nb.cells:
        name = exercise_name(cell)
        if name:
            cell.outputs, cell.execution_count = [], None
            cell.metadata["nbgrader"] = {"grade_id": name, "solution": True, "grade": False, "locked": False,
                                         "task": False, "schema_version": 3}
    return nb


def solved_edition(nb):
    """A copy of `nb` whose exercise cells hold the folded solutions (what a perfect student hands in)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cells = nb.cells
    for i, cell in enumerate(cells):
        name = exercise_name(cell)
        if not name:
            continue
        following = cells[i + 1] if i + 1 < len(cells) else None
        if following is None or not is_solution(following):
            raise ValueError(f"exercise {name} has no folded solution right after it")
        code = _SOLUTION_CODE.findall(following.source)
        if len(code) != 1:
            raise ValueError(f"the solution of {name} should hold one ```python block, found {len(code)}")
        cell.source = code[0].rstrip("\n") + "\n\n\n" + _CHECK.search(cell.source).group(0).strip()
    return nb


def slide_types(nb) -> list[str]:
    """The RISE slide type of each cell: "slide" at a #/## heading, "subslide" at a ### heading or at prose
    after code, "skip" for a folded solution, "-" (the same slide) otherwise."""
    types, previous = [], None
    for i, cell in enumerate(nb.cells):
        first = cell.source.lstrip().split("\n", 1)[0] if cell.cell_type == "markdown" else ""
        if is_solution(cell):
            kind = "skip"
        elif i == 0 or first.startswith(("# ", "## ")):
            kind = "slide"
        elif first.startswith("### ") or (cell.cell_type == "markdown" and previous == "code"):
            kind = "subslide"
        else:
            kind = "-"
        types.append(kind)
        if kind != "skip":
            previous = cell.cell_type
    return types


def slides_outdated(nb) -> list[str]:
    """What differs between the notebook's slide metadata and `slide_types` (empty when it is up to date)."""
    return [f"cell {i} ({cell.get('id', '?')}): {cell.metadata.get('slideshow', {}).get('slide_type')!r} "
             f"should be {kind!r}" for i, (cell, kind) in enumerate(zip(nb.cells, slide_types(nb)))
             if cell.metadata.get("slideshow", {}).get("slide_type") != kind]


def with_slides(nb):
    """`nb` with its slide metadata set (in place; returned for convenience)."""
    for cell, kind in zip(nb.cells, slide_types(nb)):
        cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def kit_requirements(freeze: list[str]) -> tuple[list[str], list[str]]:
    """From `pip freeze` lines, the requirements of an offline kit and the extra index pip needs to download them.

    The course's own (editable) install is left out: the repository is copied as it is. A local version like
    `torch==2.13.0+cpu` exists only on PyTorch's CPU index, which is then added (CPU wheels are also far smaller
    than the default CUDA build a classroom laptop cannot use)."""
    reqs, extra = [], []
    for line in freeze:
        line = line.strip()
        if not line or line.startswith(("#", "-e ", "--")) or " @ file:" in line:
            continue
        if re.match(r"(?i)gpt[-_]course\b", line):
            continue
        reqs.append(line)
        if re.match(r"(?i)torch[a-z]*==[^+]+\+cpu$", line) and TORCH_CPU_INDEX not in extra:
            extra.append(TORCH_CPU_INDEX)
    return reqs, extra


def offline_kit(out: Path, download: bool = True, cpu_index: bool = True) -> Path:
    """Write `out/requirements.txt`, download every wheel into `out/wheels/`, and write `out/INSTALL.md`: what a
    classroom machine without internet runs, next to a copy of the repository. Returns the INSTALL.md path."""
    import subprocess

    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True,
                            text=True, check=True).stdout.splitlines()
    reqs, extra = kit_requirements(freeze)
    out.mkdir(parents=True, exist_ok=True)
    (out / "requirements.txt").write_text("\n".join(reqs) + "\n", encoding="utf-8")
    if download:
        # `pip wheel`, not `pip download`: a package published only as source (rouge-score) is built into a
        # wheel here, so that the classroom machines install without building anything
        cmd = [sys.executable, "-m", "pip", "wheel", "--wheel-dir", str(out / "wheels"),
               "-r", str(out / "requirements.txt"), "setuptools", "wheel"]
        for url in extra if cpu_index else []:
            cmd += ["--extra-index-url", url]
        subprocess.run(cmd, check=True)
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    install = out / "INSTALL.md"
    install.write_text(f"""# Installing the course without internet

Made with Python {py} on {sys.platform}: use classroom machines with the same operating system and Python
version. Copy this folder and the course repository to each machine, then, inside the repository:

```bash
python3 -m venv .venv && . .venv/bin/activate
pip install --no-index --find-links {out.resolve()}/wheels -r {out.resolve()}/requirements.txt setuptools wheel
pip install --no-index --no-build-isolation --no-deps -e .
python -m gpt_course.doctor
```

(Where the folder lands elsewhere, change the two paths.) The doctor's exit status is 0 when the machine is
ready: packages, data verified by SHA-256, the course checkpoint, and a measured training step.
""", encoding="utf-8")
    return install


def write_edition(make, out: Path, sources: list[Path]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sources:
        nb = make(nbformat.read(src, as_version=4))
        nbformat.write(nb, out / src.name)
        written.append(out / src.name)
    return written


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def verdicts(names: list[str], log: list[dict]) -> dict[str, dict]:
    """Each exercise's last verdict in `log`; "not run" when its cell never ran its check."""
    out = {name: {"status": "not run", "message": "the cell did not run (an earlier error, or it was deleted)"}
           for name in names}
    for entry in log:
        if entry["exercise"] in out:
            out[entry["exercise"]] = {"status": entry["status"], "message": entry["message"]}
    return out


def grade(path: Path, timeout: int = 600, kernel: str = "python3") -> dict:
    """Execute the notebook at `path` in a fresh kernel and return each exercise's verdict."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "grades.jsonl"
        before = os.environ.get("GPT_COURSE_GRADE_LOG")
        os.environ["GPT_COURSE_GRADE_LOG"] = str(log)  # the kernel inherits it: check() writes its verdicts there
        try:
            NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True,
                           resources={"metadata": {"path": str(path.resolve().parent)}}).execute()
        finally:
            if before is None:
                del os.environ["GPT_COURSE_GRADE_LOG"]
            else:
                os.environ["GPT_COURSE_GRADE_LOG"] = before
        errors = sum(any(o.get("output_type") == "error" for o in cell.get("outputs", [])) for cell in nb.cells)
        result = verdicts(exercises(nb), read_log(log))
    return {"notebook": path.name, "exercises": result, "cells_with_errors": errors,
            "correct": sum(v["status"] == "correct" for v in result.values()), "total": len(result)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpt_course.classroom", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("student", help="write the student edition (no solutions)")
    s.add_argument("--out", type=Path, default=Path("student"))
    s.add_argument("notebooks", nargs="*", type=Path, help="default: every course notebook")
    v = sub.add_parser("solved", help="write the notebooks with each solution in its exercise cell (for tests)")
    v.add_argument("--out", type=Path, required=True)
    v.add_argument("notebooks", nargs="*", type=Path)
    g = sub.add_parser("grade", help="run notebooks and report every exercise's check")
    g.add_argument("notebooks", nargs="+", type=Path)
    g.add_argument("--json", action="store_true")
    g.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    c = sub.add_parser("expect", help="exit 1 unless every exercise of the notebooks has STATUS in the grade log")
    c.add_argument("status", choices=["correct", "not attempted"])
    c.add_argument("log", type=Path)
    c.add_argument("notebooks", nargs="+", type=Path)
    sl = sub.add_parser("slides", help="write every notebook's slide metadata (in place)")
    sl.add_argument("--check", action="store_true", help="only report notebooks whose metadata is out of date")
    sl.add_argument("notebooks", nargs="*", type=Path)
    k = sub.add_parser("offline-kit", help="download the wheels a classroom without internet installs from")
    k.add_argument("--out", type=Path, default=Path("offline-kit"))
    k.add_argument("--no-cpu-index", action="store_true",
                   help=f"do not add {TORCH_CPU_INDEX} (your pip already finds the CPU build, e.g. a local mirror)")
    args = parser.parse_args(argv)

    if args.command == "offline-kit":
        install = offline_kit(args.out, cpu_index=not args.no_cpu_index)
        print(f"wrote {args.out}/ (wheels and requirements); copy it with the repository, then follow {install}")
        return 0
    if args.command == "slides":
        stale = 0
        for path in args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            wrong = slides_outdated(nb)
            if wrong and args.check:
                stale += 1
                print(f"{path.name}: " + "; ".join(wrong[:3]) + (f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""))
            elif wrong:
                nbformat.write(with_slides(nb), path)
                print(f"{path.name}: slide metadata written", file=sys.stderr)
        if stale:
            print("run `python -m gpt_course.classroom slides` to update them")
        return 1 if stale else 0

    if args.command in ("student", "solved"):
        sources = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
        make = student_edition if args.command == "student" else solved_edition
        written = write_edition(make, args.out, sources)
        print(f"wrote {len(written)} notebooks to {args.out}/", file=sys.stderr)
        return 0
    if args.command == "expect":
        log = read_log(args.log)
        wrong = []
        for path in args.notebooks:
            for name, v in verdicts(exercises(nbformat.read(path, as_version=4)), log).items():
                if v["status"] != args.status:
                    wrong.append(f"{path.name} {name}: {v['status']} {v['message']}".rstrip())
        print("\n".join(wrong) or f"every exercise: {args.status}")
        return 1 if wrong else 0
    reports = [grade(path, args.timeout) for path in args.notebooks]
    if args.json:
        print(json.dumps(reports, indent=2, ensure_ascii=False))
        return 0
    for r in reports:
        print(f"{r['notebook']}: {r['correct']} of {r['total']} exercises correct"
              + (f" ({r['cells_with_errors']} cells raised an error)" if r["cells_with_errors"] else ""))
        for name, v in r["exercises"].items():
            print(f"  {name:36s} {v['status']}" + (f": {v['message']}" if v["message"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
