"""The command line: `python -m cmtoy figures`, its errors and its exit codes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cmtoy import cli
from cmtoy.viz import figures

ROOT = Path(__file__).resolve().parents[1]


def test_only_writes_the_named_figure(tmp_path, capsys):
    out = tmp_path / "new" / "dir"
    assert cli.main(["figures", "--out", str(out), "--only", "consistency_model_integration"]) == 0
    assert [p.name for p in out.iterdir()] == ["consistency_model_integration.svg"]
    assert "wrote" in capsys.readouterr().out


def test_unknown_name_lists_valid_names_and_fails(tmp_path, capsys):
    status = cli.main(["figures", "--out", str(tmp_path), "--only", "probability_flow", "nope"])
    err = capsys.readouterr().err
    assert status != 0
    assert "'nope'" in err and all(name in err for name in figures.FIGURES)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the valid name


def test_unwritable_directory_is_a_message_not_a_traceback(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    # tests may run as root, for whom permissions do not stop writing: a path under a
    # regular file cannot be created by anyone
    status = cli.main(["figures", "--out", str(blocker / "figures"), "--only", "probability_flow"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("cmtoy figures: cannot write to") and "a_file" in err
    assert "Traceback" not in err


def test_list_names_every_figure(capsys):
    assert cli.main(["figures", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(spec.filename in out for spec in figures.FIGURES.values())


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code != 0


def test_python_dash_m_runs_the_cli(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "cmtoy", "figures", "--only", "not_a_figure"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "valid names are" in result.stderr and "Traceback" not in result.stderr


def test_train_command_trains_saves_and_reports(tmp_path, capsys):
    import cmtoy

    out = tmp_path / "model.npz"
    assert cli.main(["train", "--method", "cd", "--steps", "50", "--seed", "2", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "W1 1-step" in printed and str(out) in printed
    model = cmtoy.load_model(out)  # the same model as the same run from Python, bit for bit
    same, _ = cmtoy.train(cmtoy.Interpolant(cmtoy.SEED_MIXTURE),
                          cmtoy.TrainConfig(method="cd", steps=50, seed=2, progress=False))
    x = np.linspace(-2, 2, 7)
    assert np.array_equal(model(1.0, x), same(1.0, x))


def test_train_command_rejects_bad_settings_and_missing_folders(tmp_path, capsys):
    assert cli.main(["train", "--steps", "-3", "--out", str(tmp_path / "m.npz")]) == 2
    assert "steps must be a positive integer, got -3" in capsys.readouterr().err
    missing = tmp_path / "no" / "such" / "m.npz"
    assert cli.main(["train", "--steps", "5", "--out", str(missing), "--no-progress"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not missing.parent.exists()
