"""Bad input on the command line: one line on stderr, a non-zero status, never a traceback.

Every case runs ``cli.main`` in-process except the ones that need a real process (Ctrl-C,
``python -m cmtoy``). Training runs, where any, take a few steps.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cmtoy
from cmtoy import cli

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    """(status, stderr) of one in-process run; argparse's exits are statuses too."""
    try:
        status = cli.main(list(argv))
    except SystemExit as exit_info:
        status = exit_info.code
    err = capsys.readouterr().err
    return status, err


def assert_one_line(err):
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, status, words", [
    (["train", "--stds", "0.2"], 2, "--stds needs --means"),
    (["train", "--weights", "1", "2"], 2, "--weights needs --means"),
    (["train", "--max-seconds", "inf"], 2, "--max-seconds: must be a finite number, got 'inf'"),
    (["train", "--max-seconds", "nan"], 2, "must be a finite number, got 'nan'"),
    (["train", "--max-seconds", "0"], 2, "--max-seconds: must be > 0"),
    (["train", "--max-seconds", "-1e-3"], 2, "--max-seconds: must be > 0, got '-1e-3'"),
    (["train", "--means", "0", "inf"], 2, "--means: must be a finite number"),
    (["train", "--means", "zero"], 2, "--means: not a number: 'zero'"),
    (["train", "--steps", "1e3"], 2, "--steps: invalid int value"),
    (["train", "--steps", "0"], 2, "steps must be a positive integer, got 0"),
    (["train", "--seed", "-1", "--steps", "2"], 2, "seed must be a non-negative integer, got -1"),
    (["train", "--means", "0", "1", "--stds", "1"], 2, "same length, got 2, 1 and 2"),
    (["train", "--means", "0", "--stds", "-1e-3"], 2, "stds must all be > 0"),
    (["train", "--means", "0", "--stds", "1e-300"], 2, "stds must lie in"),
    (["train", "--method", "nope"], 2, "invalid choice: 'nope'"),
    (["train", "--bogus"], 2, "unrecognized arguments: --bogus"),
    (["figures", "--only"], 2, "expected at least one argument"),
    (["figures", "--list", "--only", "probability_flow"], 2, "--list lists every figure and writes nothing; drop --only"),
    (["figures", "--list", "--retrain"], 2, "drop --retrain"),
    (["figures", "--only", "probability_flow", "--retrain"], 2, "--retrain has no effect"),
    (["nope"], 2, "invalid choice: 'nope'"),
])
def test_bad_arguments_are_one_line_and_a_status(tmp_path, capsys, argv, status, words):
    got, err = run(capsys, *argv, *([] if argv[0] != "train" else ["--out", str(tmp_path / "m.npz")]))
    assert got == status, err
    assert words in err
    assert_one_line(err)
    assert list(tmp_path.iterdir()) == []  # refused before training: nothing written


def test_the_output_path_is_checked_before_training(tmp_path, capsys, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("training started although the output cannot be written")

    monkeypatch.setattr(cli, "train", no_training)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out, words in [(tmp_path / "no" / "m.npz", "does not exist"), (tmp_path, "is a directory"),
                       (blocker / "m.npz", "a_file is a file")]:
        status, err = run(capsys, "train", "--steps", "2", "--out", str(out))
        assert status == 1 and words in err
        assert_one_line(err)


def test_negative_numbers_in_scientific_notation_are_values(tmp_path, capsys):
    out = tmp_path / "m.npz"
    status, err = run(capsys, "train", "--means", "-1e-3", "2.5e0", "--stds", "1e-1", "2E-1",
                      "--weights", "3", "1", "--steps", "3", "--no-progress", "--out", str(out))
    assert status == 0, err
    assert cmtoy.load_model(out).sigma_d == pytest.approx(
        np.sqrt(cmtoy.GaussianMixture([-1e-3, 2.5], [0.1, 0.2], [3, 1]).var))
    assert cli.numbers_not_options(["--means", "-1e-3", "-2", "--out", "-1e-3"]) == [
        "--means", " -1e-3", " -2", "--out", "-1e-3"]  # only numeric options take them


@pytest.mark.parametrize("error, status, words", [
    (FloatingPointError("the ct loss became nan at step 3"), 1, "cmtoy: the ct loss became nan at step 3"),
    (MemoryError(), 1, "cmtoy: out of memory"),
    (KeyboardInterrupt(), 130, "cmtoy: interrupted"),
    (RuntimeError("boom\nsecond line"), 1, "internal error (RuntimeError: boom second line)"),
    (ValueError("bad\nvalue"), 2, "bad value"),
])
def test_every_failure_of_a_run_is_one_line(tmp_path, capsys, monkeypatch, error, status, words):
    def failing_train(interp, config):
        raise error

    monkeypatch.setattr(cli, "train", failing_train)
    got, err = run(capsys, "train", "--steps", "2", "--out", str(tmp_path / "m.npz"))
    assert got == status
    assert words in err
    assert_one_line(err)


def test_ctrl_c_during_training_exits_130_with_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "cmtoy", "train", "--steps", "1000000", "--no-progress",
         "--out", str(tmp_path / "m.npz")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout.readline().startswith("training ct")  # the run has started
        time.sleep(0.5)  # well inside the training loop
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert err == "cmtoy: interrupted\n"
    assert not (tmp_path / "m.npz").exists()


TOKENS = ["train", "figures", "--means", "--stds", "--weights", "--steps", "--seed", "--max-seconds",
          "--method", "--schedule", "--out", "--only", "--no-progress", "--list", "ct", "cd", "linear",
          "0", "1", "-1", "2.5", "-1e-3", "1e400", "inf", "-inf", "nan", "abc", "", "-", "--", "-x"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(st.sampled_from(TOKENS), max_size=8))
def test_any_command_line_is_a_status_and_at_most_one_line(argv, capsys, monkeypatch, tmp_path):
    """Random command lines never show a traceback: a status, and one line on stderr for an
    error. Training and figure writing are replaced by a marker so that nothing runs long."""
    class Started(Exception):
        pass

    def started(*args, **kwargs):
        raise Started("started")

    monkeypatch.setattr(cli, "train", started)
    monkeypatch.setattr(cli, "run_figures", lambda args: 0)
    monkeypatch.chdir(tmp_path)
    status, err = run(capsys, *argv)
    assert status in (0, 1, 2)
    if status:
        assert_one_line(err)
    if "started" in err:  # training was reached: every argument was valid
        assert status == 1 and "internal error (Started" in err


def test_a_reader_that_leaves_early_is_no_traceback():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    read, write = os.pipe()
    os.close(read)  # nobody will read what cmtoy prints
    try:
        result = subprocess.run([sys.executable, "-m", "cmtoy", "figures", "--list"], stdout=write,
                                stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    finally:
        os.close(write)
    assert result.returncode == 1
    assert result.stderr == ""  # as for any tool whose reader went away
