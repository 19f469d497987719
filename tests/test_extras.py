"""Install profiles (isplab.extras): a feature whose extra is missing says which one, in one line."""

from __future__ import annotations

import pytest

from isplab import extras
from isplab.extras import MissingExtraError, require


def test_missing_extra_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(extras.EXTRAS, "export", ("isplab_no_such_module",))
    with pytest.raises(MissingExtraError) as err:
        require("export", "converting to TFLite")
    text = str(err.value)
    assert "\n" not in text and "pip install 'isplab[export]'" in text and "isplab_no_such_module" in text


def test_installed_extras_pass():
    require("export", "x")  # the dev install pulls every extra
    require("accel", "x")


def test_export_says_which_extra_it_needs(monkeypatch, tmp_path):
    from isplab.export.convert import export_tflite
    from isplab.models import create_model

    monkeypatch.setitem(extras.EXTRAS, "export", ("isplab_no_such_module",))
    with pytest.raises(MissingExtraError, match=r"isplab\[export\]"):
        export_tflite(create_model("smallnet"), tmp_path / "m.tflite", input_size=(16, 16))
    assert not (tmp_path / "m.tflite").exists()


def test_accel_check_without_the_extra_is_not_checked_and_says_why(monkeypatch, tmp_path):
    from isplab.accel.check import _run_targets
    from isplab.accel.toolchains import Toolchains
    from isplab.accel.verdict import AccelBudget, AccelReport

    monkeypatch.setitem(extras.EXTRAS, "accel", ("isplab_no_such_module",))
    report = _run_targets(AccelReport("m", (8, 8)), ["htp:SM8450"], Toolchains.load(tmp_path), [], [], (),
                          AccelBudget())
    assert report.htp == [] and "pip install 'isplab[accel]'" in report.failures()[0]
