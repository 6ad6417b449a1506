"""The classroom kit: the student edition keeps everything but the solutions; the grader reports each exercise.

The student edition of every notebook is executed by .ci/run (and must report every exercise "not attempted"),
and so is the edition with every folded solution filled in (every exercise "correct")."""
import json

import nbformat
import pytest

from gpt_course import classroom

COURSE = sorted(classroom.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.name[:2])
def test_student_edition_drops_the_solutions_and_nothing_else(path):
    course = nbformat.read(path, as_version=4)
    student = classroom.student_edition(course)
    names = classroom.exercises(course)
    assert classroom.exercises(student) == names
    assert not any(classroom.is_solution(c) for c in student.cells)
    kept = [c for c in course.cells if not classroom.is_solution(c)]
    assert len(student.cells) == len(kept) == len(course.cells) - len(names)  # one folded solution per exercise
    assert classroom.STUDENT_NOTE in student.cells[0].source
    for ours, theirs in zip(kept[1:], student.cells[1:]):
        assert ours.source == theirs.source
        name = classroom.exercise_name(theirs)
        if name:  # a scaffold with an empty output, marked for nbgrader
            assert "NotImplementedError" in theirs.source or "..." in theirs.source
            assert theirs.outputs == [] and theirs.metadata["nbgrader"]["grade_id"] == name
        elif ours.cell_type == "code":
            assert ours.outputs == theirs.outputs


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.name[:2])
def test_solved_edition_fills_every_exercise_with_its_solution(path):
    course = nbformat.read(path, as_version=4)
    solved = classroom.solved_edition(course)
    for cell in solved.cells:
        if classroom.exercise_name(cell):
            assert "NotImplementedError" not in cell.source and cell.source.rstrip().endswith(";")


def code(source):
    return nbformat.v4.new_code_cell(source)


def test_grader_reports_correct_wrong_not_attempted_and_not_run(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        code("import math, torch\nfrom gpt_course.exercises import check"),
        code("def causal_mask(T):\n    return torch.tril(torch.ones(T, T, dtype=torch.bool))\n\n\n"
             'check("04.causal_mask", causal_mask);'),
        code('raise RuntimeError("a cell that fails does not stop the grader")'),
        code("def attention_row(q, K):\n    return torch.softmax(K @ q, dim=0)  # no 1/sqrt(d)\n\n\n"
             'check("04.attention_row", attention_row);'),
        code("def scaled_dot_product_attention(q, k, v):\n    raise NotImplementedError\n\n\n"
             'check("04.scaled_dot_product_attention", scaled_dot_product_attention);'),
        code("def pick(learner, fast)\n    return learner\n\n\ncheck(\"00.pick\", pick);"),  # a syntax error
    ])
    path = tmp_path / "work.ipynb"
    nbformat.write(nb, path)
    report = classroom.grade(path, timeout=120)
    status = {name: v["status"] for name, v in report["exercises"].items()}
    assert status == {"04.causal_mask": "correct", "04.attention_row": "not quite",
                      "04.scaled_dot_product_attention": "not attempted", "00.pick": "not run"}
    assert "√d_k" in report["exercises"]["04.attention_row"]["message"] or "sqrt" in \
        report["exercises"]["04.attention_row"]["message"]
    assert (report["correct"], report["total"], report["cells_with_errors"]) == (1, 4, 2)


def test_expect_reads_the_log_of_a_run(tmp_path, capsys):
    nb = nbformat.v4.new_notebook(cells=[code('check("04.causal_mask", causal_mask);'),
                                         code('check("04.attention_row", attention_row);')])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    log = tmp_path / "grades.jsonl"
    log.write_text(json.dumps({"exercise": "04.causal_mask", "status": "not attempted", "message": ""}) + "\n")
    assert classroom.main(["expect", "not attempted", str(log), str(path)]) == 1
    assert "04.attention_row: not run" in capsys.readouterr().out
    with log.open("a") as f:
        f.write(json.dumps({"exercise": "04.attention_row", "status": "not attempted", "message": ""}) + "\n")
    assert classroom.main(["expect", "not attempted", str(log), str(path)]) == 0
    assert classroom.main(["expect", "correct", str(log), str(path)]) == 1


def test_teaching_guide_is_up_to_date():
    """docs/teaching.md is generated from the notebooks, the measured run times and the exercise checks."""
    import subprocess
    import sys

    root = classroom.NOTEBOOKS.parent
    out = subprocess.run([sys.executable, str(root / "docs" / "build_teaching_guide.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_teaching_guide_covers_every_notebook_and_exercise():
    import importlib.util

    spec = importlib.util.spec_from_file_location("guide", classroom.NOTEBOOKS.parent / "docs" / "build_teaching_guide.py")
    guide = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(guide)
    names = {name for path in COURSE for name in classroom.exercises(nbformat.read(path, as_version=4))}
    assert names == set(guide.DIFFICULTY), "give every exercise a difficulty in docs/build_teaching_guide.py"
    assert {p.name[:2] for p in COURSE} == set(guide.NOTES) == {nn for _, _, nbs, _ in guide.LESSONS for nn in nbs}
    assert all(sum(m for m, _ in plan) == 90 for _, _, _, plan in guide.LESSONS)


def test_slide_types_follow_the_headings_and_leave_solutions_out():
    md = nbformat.v4.new_markdown_cell
    code = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[
        md("# 04 · Title"), code("setup()"), md("## 4.1 A section"), md("more prose"), code("show()"),
        md("An explanation after code"), code('check("04.x", answer)'),
        md(classroom.SOLUTION_START + "\n\n```python\nanswer = 1\n```\n</details>"),
        md("Prose after the solution"), md("### A subsection"), code("x")])
    assert classroom.slide_types(nb) == ["slide", "-", "slide", "-", "-", "subslide", "-", "skip", "subslide",
                                         "subslide", "-"]
    assert classroom.slides_outdated(nb)  # no metadata yet
    assert classroom.slides_outdated(classroom.with_slides(nb)) == []


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.name[:2])
def test_every_notebook_has_up_to_date_slide_metadata(path):
    """`python -m gpt_course.classroom slides` writes it; a cell added or moved without it fails here."""
    nb = nbformat.read(path, as_version=4)
    assert classroom.slides_outdated(nb) == [], "run `python -m gpt_course.classroom slides`"
    types = classroom.slide_types(nb)
    assert types[0] == "slide" and types.count("slide") >= 3


def test_offline_kit_requirements_leave_the_course_out_and_find_the_cpu_torch():
    reqs, extra = classroom.kit_requirements([
        "numpy==2.1.0", "torch==2.13.0+cpu", "-e git+https://example.org/gpt-course#egg=gpt_course",
        "gpt-course==0.1.0", "# a comment", "local @ file:///tmp/local", ""])
    assert reqs == ["numpy==2.1.0", "torch==2.13.0+cpu"]
    assert extra == [classroom.TORCH_CPU_INDEX]
    assert classroom.kit_requirements(["torch==2.13.0", "tqdm==4.67.1"]) == (["torch==2.13.0", "tqdm==4.67.1"], [])


def test_offline_kit_writes_the_requirements_and_the_install_steps(tmp_path):
    install = classroom.offline_kit(tmp_path / "kit", download=False)
    reqs = (tmp_path / "kit" / "requirements.txt").read_text().split()
    assert any(r.startswith("torch==") for r in reqs) and not any(r.lower().startswith("gpt") for r in reqs)
    text = install.read_text()
    assert "--no-index --find-links" in text and "python -m gpt_course.doctor" in text
