import platform
from importlib import metadata

import helpers.data
from helpers import DEVICE_ENV
from helpers.environment import check_environment, environment_report


def test_everything_in_place_here(capsys, monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert check_environment()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "\u2705 Python 3.11"
    assert "\u2705 torch 2.14.1" in out and "\u2705 device: CPU" in out
    assert out[-1] == "\u2705 data: 4,000 training and 1,000 test images in data/MNIST/raw"


def test_wrong_version_names_the_pin_and_the_fix(monkeypatch):
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "2.0.0" if name == "torch" else real(name))
    report = dict((message.split()[0], (ok, message)) for ok, message in environment_report())
    ok, message = report["torch"]
    assert not ok and "needs ==2.14.1" in message and "make lab" in message


def test_a_python_outside_the_range_names_the_range_and_the_fix(monkeypatch):
    monkeypatch.setattr(platform, "python_version", lambda: "3.14.0")
    ok, message = environment_report()[0]
    assert not ok and message.startswith("Python 3.14, but the course needs Python ") and "<3.14" in message
    assert "make clean lab PYTHON=python3.12" in message


def test_missing_data_and_bad_device_are_reported(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(helpers.data, "DATA_DIR", tmp_path)
    monkeypatch.setenv(DEVICE_ENV, "tpu9")
    assert not check_environment()
    out = capsys.readouterr().out
    assert "\u274c COURSE_DEVICE='tpu9' is not a device name" in out
    assert "\u274c No MNIST files in" in out and "git checkout -- data" in out
