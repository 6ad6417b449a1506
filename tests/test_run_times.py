"""The run time at the top of every notebook is the suite's measurement, not a guess."""
import json

import nbformat
import pytest

from gpt_course.classroom import NOTEBOOKS
from gpt_course.utils import RUN_TIMES, measured_run_time

COURSE = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_the_line_reads_both_modes_and_the_machine(tmp_path):
    results = tmp_path / "notebooks.json"
    results.write_text(json.dumps({"machine": {"cores": 2, "cpu": "x86_64", "cpu_name": "Some CPU",
                                               "cpu_capability": "AVX2"},
                                   "notebooks": {"07_x": {"learner": {"seconds": 169.2}, "test": {"seconds": 16.3}}}}))
    line = measured_run_time("07_x", results)
    assert line == ("Run time, measured by the course's suite (2 CPU cores, Some CPU, AVX2): 2.8 minutes as written, "
                    "16 seconds in test mode (GPT_COURSE_FAST=1).")
    with pytest.raises(ValueError, match="07_x"):
        measured_run_time("07", results)  # the file name without .ipynb, not the number
    assert "not measured here" in measured_run_time("07_x", tmp_path / "missing.json")


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.name[:2])
def test_every_notebook_prints_its_measured_run_time_at_the_top(path):
    nb = nbformat.read(path, as_version=4)
    assert "Run time: measured, in the cell below" in nb.cells[0].source
    assert nb.cells[1].cell_type == "code" and f'measured_run_time("{path.stem}")' in nb.cells[1].source
    suite = json.loads(RUN_TIMES.read_text())
    assert {"learner", "test"} <= set(suite["notebooks"][path.stem]), f"{path.stem} was not measured in both modes"
