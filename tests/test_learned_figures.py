"""Figures of a learned model: drawn from the model they are given, scored exactly."""

import numpy as np
import pytest

import cmtoy

from cmtoy import reference
from cmtoy.viz import learned_figures


@pytest.fixture
def interp():
    return cmtoy.Interpolant(cmtoy.SEED_MIXTURE, cmtoy.LinearSchedule())


class ShiftedExact:
    """The exact consistency function plus a known error: a stand-in for a trained model."""

    def __init__(self, interp, shift):
        self.interp, self.shift, self.schedule = interp, shift, interp.schedule

    def __call__(self, t, x):
        t, x = np.broadcast_arrays(np.asarray(t, float), np.asarray(x, float))
        return self.interp.flow_map(x, t, 0.0) + self.shift * t  # f(0, x) = x still holds


def test_flow_map_figure_draws_the_model_and_its_exact_error(interp):
    figure = learned_figures.flow_map_learned_figure(interp, ShiftedExact(interp, 0.2), n_t=20, n_x=10)
    curves, error_map = figure.axes[:2]
    dashed = [line for line in curves.lines if line.get_linestyle() == "--" and len(line.get_xdata())]
    assert len(dashed) == len(learned_figures.CURVE_TIMES)
    x, y = dashed[-1].get_data()  # t = 1
    np.testing.assert_allclose(y, interp.flow_map(x, 1.0, 0.0) + 0.2, atol=1e-12)
    error = error_map.images[0].get_array()
    t_centres = (np.arange(20) + 0.5) / 20
    np.testing.assert_allclose(error, np.broadcast_to(0.2 * t_centres, (10, 20)), rtol=1e-9)


def test_few_step_figure_reports_exact_w1_in_the_legend(interp):
    exact = ShiftedExact(interp, 0.0)
    ax = learned_figures.few_step_samples_figure(interp, exact, n=20_000).axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[0].startswith("target") and labels[1].startswith("1-step")
    w1 = [float(label.split("= ")[1].rstrip("$")) for label in labels[1:]]
    assert len(w1) == 3 and max(w1) < 0.03  # the exact f* samples the target: only MC error
    biased = learned_figures.few_step_samples_figure(interp, ShiftedExact(interp, 0.5), n=20_000)
    label = biased.axes[0].get_legend().get_texts()[1].get_text()
    assert float(label.split("= ")[1].rstrip("$")) == pytest.approx(0.5, abs=0.03)


def test_induction_error_figure_shows_slopes_two_and_one(interp):
    ax = learned_figures.induction_error_figure(interp, n=64).axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    spread, bias = (float(label.rsplit(" ", 1)[1]) for label in labels[:2])
    assert spread == pytest.approx(1.0, abs=0.15) and bias == pytest.approx(2.0, abs=0.2)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_ct_fixed_point_figure_draws_fixed_points_closing_in_on_f_star(interp):
    ax = learned_figures.ct_fixed_point_figure(interp, ns=(4, 16, 64), model=ShiftedExact(interp, 0.5),
                                               n_x=2001, n=20_000).axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[0].startswith("exact") and len(labels) == 5
    w1 = [float(label.split("= ")[-1].rstrip("$")) for label in labels[1:]]
    assert w1[0] > w1[1] > w1[2]  # the fixed point's floor falls as N grows
    assert w1[3] == pytest.approx(0.5, abs=0.03)  # the model: f* shifted by 0.5
    exact, *fixed, model = (line.get_ydata() for line in ax.lines)
    np.testing.assert_allclose(model, exact + 0.5)
    with pytest.raises(ValueError, match="ns must"):
        learned_figures.ct_fixed_point_figure(interp, ns=(0, 16))


def test_training_curve_uses_block_means_of_the_loss():
    history = {"loss": np.arange(1.0, 401.0), "evals": [
        {"step": 200, "seconds": 3.0, "w1_1step": 0.2, "w1_2step": 0.1, "flow_map_error": 0.3},
        {"step": 400, "seconds": 6.0, "w1_1step": 0.1, "w1_2step": 0.05, "flow_map_error": 0.2}]}
    compact = reference.compact_history(history, block=100)
    assert compact["loss_steps"] == [100, 200, 300, 400]
    assert compact["loss"] == [50.5, 150.5, 250.5, 350.5]
    assert "seconds" not in compact["evals"][0]  # wall time would make stored files differ
    assert reference.compact_history(compact) is compact
    top, bottom = learned_figures.training_curve_figure(history).axes
    np.testing.assert_array_equal(top.lines[0].get_ydata(), compact["loss"])
    np.testing.assert_array_equal(bottom.lines[0].get_ydata(), [0.2, 0.1])


def test_reference_model_is_trained_once_then_loaded(interp, tmp_path):
    training = dict(method="ct", steps=60, seed=3, eval_every=30, eval_samples=500)
    path = tmp_path / "model.npz"
    model, history = reference.reference_model(interp, path, training=training)
    assert path.exists() and len(history["evals"]) >= 1
    stamp = path.stat().st_mtime_ns
    again, history_again = reference.reference_model(interp, path, training=training)
    assert path.stat().st_mtime_ns == stamp  # loaded, not retrained
    t, x = np.linspace(0.0, 1.0, 7), np.linspace(-2.0, 2.0, 7)
    np.testing.assert_array_equal(again(t, x), model(t, x))
    assert history_again == history
    other = dict(training, seed=4)  # stale settings: trained again
    reference.reference_model(interp, path, training=other)
    assert path.stat().st_mtime_ns != stamp
