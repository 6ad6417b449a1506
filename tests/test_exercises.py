"""Every exercise check accepts the reference solution and rejects a wrong one with a message."""
import importlib
import pkgutil

import pytest

import gpt_course.exercises as ex

MODULES = sorted(m.name for m in pkgutil.iter_modules(ex.__path__) if m.name.startswith("nb"))
CASES = []
for _name in MODULES:
    _module = importlib.import_module(f"gpt_course.exercises.{_name}")
    for _exercise, (_good, _bad) in _module.SOLUTIONS.items():
        CASES.append(pytest.param(_exercise, _good, _bad, id=_exercise))


def test_every_registered_exercise_has_solutions():
    registered = set(ex._CHECKS)
    with_solutions = {case.values[0] for case in CASES}
    assert registered == with_solutions, f"exercises without SOLUTIONS: {registered - with_solutions}"


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
