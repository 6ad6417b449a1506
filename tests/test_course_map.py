"""Notebook 00's table of the package's layers is checked by a cell whose committed output nbval compares; this test
runs that cell's code on its own and requires it to print True, so a module added to the package without a row in
the table (or an import against the table's order) fails here, not only when the notebook's output is re-recorded."""

import ast
import contextlib
import io
import json
from pathlib import Path

import gpt_course as gc

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "00_setup.ipynb"


def layers_cell() -> str:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    found = [cell for cell in cells if cell["cell_type"] == "code" and "LAYERS = [" in "".join(cell["source"])]
    assert len(found) == 1, f"expected one cell defining LAYERS in {NOTEBOOK.name}, found {len(found)}"
    return "".join(found[0]["source"])


def test_the_course_map_lists_every_module_in_import_order():
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(layers_cell(), "00_setup LAYERS cell", "exec"), {"gc": gc, "Path": Path, "ast": ast})
    lines = printed.getvalue().splitlines()
    assert len(lines) == 2, printed.getvalue()
    assert all(line.endswith(": True") for line in lines), printed.getvalue()
