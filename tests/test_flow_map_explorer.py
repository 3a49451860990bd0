"""Notebook 05's explorer: train a flow map, then slide the jump t -> s and the number of steps."""

import numpy as np
import pytest

import cmtoy
from cmtoy.viz import flow_map_widgets
from cmtoy.viz.flow_map_widgets import FLOW_MAP_METHODS, FlowMapExplorer
from cmtoy.viz.learned_widgets import TrainingExplorer


@pytest.fixture(scope="module")
def trained():
    explorer = FlowMapExplorer()  # the notebook's default run
    explorer.train()
    return explorer


def test_the_default_run_shows_the_lesson_a_good_map_and_more_steps_helping(trained):
    w1 = {k: trained.samples_for(k)[2] for k in (1, 2, 4, 8)}  # the laws' W1, without sampling noise
    assert w1[1] < 0.15, w1  # visibly the target's two modes
    assert w1[4] < 0.7 * w1[1], w1  # and more composed jumps visibly better
    exact, learned, _ = trained.artists["map"]
    np.testing.assert_allclose(exact.get_ydata(), trained.interp.flow_map(trained.x, 1.0, 0.0))
    np.testing.assert_array_equal(learned.get_ydata(), trained.model.flow_map(trained.x, 1.0, 0.0))


def test_the_sliders_move_the_jump_and_the_steps_without_retraining(trained):
    trained.set(t=0.6, s=0.2, n_steps=4)
    exact, learned, title = trained.artists["map"]
    np.testing.assert_allclose(exact.get_ydata(), trained.interp.flow_map(trained.x, 0.6, 0.2))
    np.testing.assert_array_equal(learned.get_ydata(), trained.model.flow_map(trained.x, 0.6, 0.2))
    assert "t = 0.6" in title.get_text()
    assert f"law = {trained.samples_for(4)[2]:.3f}" in trained.artists["samples"][1].get_text()
    assert "press Train" not in trained.status_html()  # only the training knobs ask for a new run
    trained.set(steps=1000)
    assert "press Train" in trained.status_html()
    trained.set(steps=3000, t=1.0, s=0.0, n_steps=1)


def test_the_figure_and_the_status_line_give_the_same_one_step_w1_that_of_the_law(trained):
    heights, sampled, law = trained.samples_for(1)
    assert law == cmtoy.composition_w1(trained.model, trained.interp, (1.0,), n=flow_map_widgets.N_SAMPLES)
    assert sampled == pytest.approx(law, abs=0.02) and sampled != law  # the histogram's own W1 has noise
    assert trained.summary.endswith(f"1-step W1 of the law = {law:.3f}")
    assert trained.samples_for(2, "renoise")[2] is None  # fresh noise at every step: no law in closed form


def test_a_jump_forward_in_time_is_refused_and_the_knobs_stay(trained):
    before = trained.values
    with pytest.raises(ValueError, match="s must be below t, got t=0.3, s=0.5"):
        trained.set(t=0.3, s=0.5)
    assert trained.values == before and "s must be below t" in trained.message


def test_the_methods_are_the_flow_map_ones_and_the_consistency_explorer_keeps_its_own():
    assert FLOW_MAP_METHODS == ["meanflow", "psd", "fmd"]
    assert list(FlowMapExplorer.knobs["method"].options) == FLOW_MAP_METHODS
    one_time = TrainingExplorer.knobs["method"].options
    assert "ct" in one_time and not set(one_time) & set(FLOW_MAP_METHODS)


def test_a_short_run_of_each_method_trains_and_redraws():
    for method in FLOW_MAP_METHODS:
        explorer = FlowMapExplorer(method=method, steps=300)
        model, history = explorer.train()
        assert isinstance(model, cmtoy.FlowMapModel) and history["steps_done"] == 300
        assert explorer.summary.startswith(method)
