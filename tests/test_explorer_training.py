"""Notebook 03's explorer: a default that converges, divergence said in the status line."""

import ipywidgets
import pytest

import cmtoy.viz.learned_widgets as learned_widgets
from cmtoy.viz.learned_widgets import TrainingExplorer


def parts(box):
    """(knob controls, Train button, progress bar, status line) of a TrainingExplorer widget."""
    column = box.children[0].children
    return column[:-3], column[-3], column[-2], column[-1]


def test_the_default_run_converges_and_says_so_beside_the_figure():
    trainer = TrainingExplorer()
    box = trainer.widget()
    controls, button, progress, status = parts(box)
    assert isinstance(button, ipywidgets.Button) and button.description == "Train"
    button.click()  # what pressing Train does (on the comm thread, in JupyterLab)
    last = trainer.history["evals"][-1]
    assert last["step"] == TrainingExplorer.defaults["steps"] == progress.value
    assert last["w1_1step"] <= 0.05, f"the default run ends at 1-step W1 {last['w1_1step']:.3f}"
    assert f"1-step W1 = {last['w1_1step']:.3f}" in status.value
    assert not button.disabled and not any(c.disabled for c in controls)
    assert "1-step $W_1$" in trainer.artists["curves"][-1].get_text()  # and in the figure itself
    picture = trainer.png
    trainer.set(lr=1e-3)  # a knob moved: the picture stays that of the run, the status says so
    assert trainer.png == picture and "settings changed" in status.value


def test_a_diverging_run_is_said_in_the_status_line_not_a_traceback(monkeypatch):
    def diverge(interp, config, callback=None):
        raise FloatingPointError(f"the {config.method} loss became nan at step 12 (learning rate {config.lr:.3g})")

    monkeypatch.setattr(learned_widgets, "train", diverge)
    trainer = TrainingExplorer(lr=10.0, steps=100)
    controls, button, _, status = parts(trainer.widget())
    button.click()  # no exception escapes the button
    assert "diverged" in status.value and "loss became nan" in status.value and "learning rate 10" in status.value
    assert not button.disabled and not any(c.disabled for c in controls)
    with pytest.raises(FloatingPointError, match="nan"):
        trainer.train()  # from code the error is raised, and said in the status line too
    assert "diverged" in trainer.status_html()


def test_the_largest_learning_rate_of_the_slider_diverges():
    trainer = TrainingExplorer(lr=max(TrainingExplorer.knobs["lr"].options), steps=500)
    with pytest.raises(FloatingPointError):
        trainer.train()
    assert "diverged" in trainer.status_html()
