"""Every exercise check accepts the reference solution and rejects a wrong one with a message."""
import importlib
import pkgutil

import pytest

import gpt_course.exercises as ex
from exercise_answers import ANSWERS

MODULES = sorted(m.name for m in pkgutil.iter_modules(ex.__path__) if m.name.startswith("nb"))
for _name in MODULES:  # registers every check
    importlib.import_module(f"gpt_course.exercises.{_name}")
CASES = [pytest.param(name, good, bad, id=name) for name, (good, bad) in ANSWERS.items()]


def test_every_registered_exercise_has_answers():
    registered = set(ex._CHECKS)
    assert registered == set(ANSWERS), (f"checks without answers in tests/exercise_answers.py: {registered - set(ANSWERS)}; "
                                        f"answers without a check: {set(ANSWERS) - registered}")


def test_the_package_ships_no_answers():
    for name in MODULES:
        assert not hasattr(importlib.import_module(f"gpt_course.exercises.{name}"), "SOLUTIONS"), name


@pytest.mark.parametrize("name, good, bad", CASES)
def test_check_accepts_solution_and_rejects_mistake(name, good, bad, capsys):
    assert ex.run_check(name, good)
    with pytest.raises(ex.Mistake):
        ex.run_check(name, bad)
    assert ex.check(name, bad) is False
    assert "not quite" in capsys.readouterr().out


def test_unwritten_answer_is_reported_not_raised(capsys):
    def stub(*args):
        raise NotImplementedError

    assert ex.check("00.count_parameters", stub) is False
    assert "not attempted" in capsys.readouterr().out


def test_unknown_exercise_is_a_clear_error():
    with pytest.raises(KeyError, match="no exercise called"):
        ex.check("99.nothing", print)
