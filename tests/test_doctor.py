"""The classroom readiness check: it passes on a ready machine and names what is missing or changed."""
import json

import pytest

from gpt_course import data, doctor


@pytest.fixture(autouse=True)
def fresh():
    data._read_bundled.cache_clear()
    yield
    data._read_bundled.cache_clear()


def by_name(report):
    return {c["name"]: c for c in report["checks"]}


def test_a_ready_machine_is_ready():
    report = doctor.run(measure=False)
    checks = by_name(report)
    assert report["ready"], [c for c in report["checks"] if not c["ok"]]
    assert checks["data: WikiText-2 course split"]["ok"] and "SHA-256 verified" in checks["data: SMS Spam Collection"]["detail"]
    assert checks["course checkpoint"]["ok"] and "parameters" in checks["course checkpoint"]["detail"]
    assert set(doctor.MINIMUM_VERSIONS) <= set(checks)


def test_missing_and_changed_data_make_the_machine_not_ready(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "data"
    (folder / "sms_spam").mkdir(parents=True)
    blob = (data.data_dir() / "sms_spam" / "SMSSpamCollection").read_bytes()
    (folder / "sms_spam" / "SMSSpamCollection").write_bytes(blob.replace(b"\n", b"\r\n"))  # a line-ending conversion
    monkeypatch.setenv("GPT_COURSE_DATA", str(folder))
    checks = by_name(doctor.run(measure=False))
    assert not checks["data: WikiText-2 course split"]["ok"] and "missing" in checks["data: WikiText-2 course split"]["detail"]
    assert not checks["data: SMS Spam Collection"]["ok"] and "SHA-256" in checks["data: SMS Spam Collection"]["detail"]
    assert doctor.main(["--no-timing"]) == 1
    assert "NOT ready" in capsys.readouterr().out


def test_versions_are_compared_as_numbers():
    assert doctor._version_tuple("2.13.0+cpu") > doctor._version_tuple("2.2")
    assert doctor._version_tuple("4.45.0.dev0") >= doctor._version_tuple("4.45")
    assert doctor._version_tuple("1.9") < doctor._version_tuple("1.24")


def test_json_report_with_a_measured_step(capsys):
    assert doctor.main(["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ready"] and 0 < report["step_seconds"] < 60
    assert report["notebook_10_training_minutes"] == pytest.approx(report["step_seconds"] * doctor.NOTEBOOK_10_STEPS / 60, abs=0.06)


def test_the_estimate_is_for_notebook_10s_run():
    from gpt_course.pretrain import QUICK_RECIPE

    assert doctor.NOTEBOOK_10_STEPS == QUICK_RECIPE.train.max_steps
