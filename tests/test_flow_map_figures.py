"""Figures of a learned flow map: drawn from the map they are given, scored against the exact one."""

import numpy as np
import pytest

import cmtoy
from cmtoy.viz import figures, flow_map_figures


@pytest.fixture
def interp():
    return cmtoy.Interpolant(cmtoy.SEED_MIXTURE, cmtoy.LinearSchedule())


class ShiftedFlowMap:
    """The exact flow map plus a known error (t - s) shift: a stand-in for a trained flow map."""

    def __init__(self, interp, shift):
        self.interp, self.shift, self.schedule = interp, shift, interp.schedule

    def flow_map(self, x, t, s):
        x, t, s = np.broadcast_arrays(*(np.asarray(a, float) for a in (x, t, s)))
        return self.interp.flow_map(x, t, s) + self.shift * (t - s)  # X(t, t, x) = x still holds

    def __call__(self, t, x):
        return self.flow_map(x, t, 0.0)


def test_trajectories_are_the_maps_jumps_from_one_over_the_exact_lines(interp):
    figure = flow_map_figures.flow_map_trajectories_figure(interp, ShiftedFlowMap(interp, 0.3), n_paths=5)
    flow = figure.axes[0]
    dashed = [line for line in flow.lines if line.get_linestyle() == "--"]
    solid = [line for line in flow.lines if line.get_linestyle() == "-"]
    assert len(dashed) == len(solid) == 5
    for learned, exact in zip(dashed, solid):
        s, x = learned.get_data()
        np.testing.assert_allclose(x, exact.get_ydata() + 0.3 * (1.0 - s), atol=1e-9)


def test_error_grid_shows_the_exact_two_time_error(interp):
    figure = flow_map_figures.flow_map_error_grid_figure(interp, ShiftedFlowMap(interp, 0.2), n_t=6, n=32)
    shown = np.asarray(figure.axes[0].images[0].get_array())  # [s, t]
    ts = np.linspace(0.0, 1.0, 6)
    for i, t in enumerate(ts):
        for j, s in enumerate(ts):
            if s < t:
                assert shown[j, i] == pytest.approx(0.2 * (t - s), rel=1e-9)
            elif s > t:
                assert np.isnan(shown[j, i])


def test_steps_figure_puts_the_exact_map_at_the_floor_and_the_shifted_map_above(interp):
    figure = flow_map_figures.flow_map_steps_figure(interp, ShiftedFlowMap(interp, 0.2), steps=(1, 2), n=20_000)
    composed, renoised, exact = figure.axes[0].lines
    assert list(composed.get_xdata()) == [1, 2]
    assert np.all(exact.get_ydata() < 0.02)  # the sampling floor of 20,000 samples
    # a shift of 0.2 (t - s) adds about 0.2 over the steps of a composition (the exact map
    # in between stretches or squeezes the earlier ones): far above the floor
    assert np.all((composed.get_ydata() > 0.1) & (composed.get_ydata() < 0.3))
    assert np.all(renoised.get_ydata() > 0.1)


def test_the_flow_map_figures_need_a_flow_map_and_write_the_same_bytes_twice(interp, tmp_path):
    names = ["flow_map_error_grid", "flow_map_steps"]
    assert figures.needs_flow_map(names) and not figures.needs_model(names)
    with pytest.raises(ValueError, match="draw a trained flow map: pass flow_map="):
        figures.write_figures(tmp_path, names)
    params = cmtoy.mlp.init_params(cmtoy.MLPConfig(width=8, depth=1, n_fourier=2, n_times=2), np.random.default_rng(0))
    model = cmtoy.FlowMapModel("linear", np.sqrt(interp.target.var), params)
    first = figures.write_figures(tmp_path / "a", names, flow_map=model)
    second = figures.write_figures(tmp_path / "b", names, flow_map=model)
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_the_cached_flow_map_is_the_one_its_training_key_names():
    """figures/flow_map_model.npz is reused, not retrained, by `python -m cmtoy figures`."""
    from pathlib import Path

    from cmtoy.checkpoint import load_checkpoint
    from cmtoy.reference import FLOW_MAP_FILE, FLOW_MAP_TRAINING, training_key

    path = Path(__file__).resolve().parents[1] / "figures" / FLOW_MAP_FILE
    stored = load_checkpoint(path)[1]["extra"]["training"]
    assert stored == training_key(cmtoy.TrainConfig(**FLOW_MAP_TRAINING))
    assert isinstance(cmtoy.load_model(path), cmtoy.FlowMapModel)
