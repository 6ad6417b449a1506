"""The Chinese notebooks are the English ones with translated prose (tests/test_translation.py proves their code and
outputs identical), so the suite executes one of them, from this folder, rather than running every notebook twice."""
from pathlib import Path

EXECUTED = "04_self_attention.ipynb"  # a short notebook with widgets; the browser test opens it too
collect_ignore = [p.name for p in Path(__file__).parent.glob("*.ipynb") if p.name != EXECUTED]
