"""The documentation figures: their content, their look (image baselines), byte stability.

Image baselines live in tests/baseline/<name>.png (every figure rendered as PNG at
BASELINE_DPI, SVG figures included, since rasterising SVG would need an external tool).
After an intended change of a figure, regenerate them and look at the diff:

    CMTOY_UPDATE_BASELINES=1 python -m pytest tests/test_figures.py
"""

import os
from pathlib import Path

import numpy as np
import pytest
from matplotlib.testing.compare import compare_images

import cmtoy
from cmtoy.viz import figures, plotting

BASELINE = Path(__file__).parent / "baseline"
BASELINE_DPI = 72
TOLERANCE = 2.0  # RMS difference on a 0-255 scale: room for font rasteriser versions
UPDATE = os.environ.get("CMTOY_UPDATE_BASELINES") == "1"


@pytest.fixture
def interp():
    return cmtoy.Interpolant(cmtoy.SEED_MIXTURE, cmtoy.LinearSchedule())


def render(figure, path):
    with plotting.figure_style():
        figure.savefig(path, dpi=BASELINE_DPI, metadata={"Software": None})


@pytest.mark.parametrize("name", figures.SEED_FIGURES)
def test_figure_matches_its_baseline_image(name, tmp_path):
    figure = figures.FIGURES[name].make(None)
    expected = BASELINE / f"{name}.png"
    if UPDATE:
        render(figure, expected)
        pytest.skip(f"baseline {expected.name} regenerated")
    actual = tmp_path / f"{name}.png"
    render(figure, actual)
    assert expected.exists(), f"no baseline {expected}; see this module's docstring"
    result = compare_images(str(expected), str(actual), tol=TOLERANCE)
    assert result is None, result


def test_writing_twice_gives_identical_bytes(tmp_path):
    names = ["probability_flow", "consistency_models_integration", "slope_distribution_2"]
    first = figures.write_figures(tmp_path / "a", names)
    second = figures.write_figures(tmp_path / "b", names)
    assert [p.name for p in first] == [
        "probability_flow.png", "consistency_models_integration.svg", "slope_distribution_2.svg"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    svg = first[1].read_text()
    assert "Matplotlib v" not in svg and "<dc:date>" not in svg
    assert b"matplotlib" not in first[0].read_bytes().lower()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in first)


def test_unknown_figure_name_lists_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown figure 'nope'.*probability_flow"):
        figures.write_figures(tmp_path, ["nope"])
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_no_file_behind(tmp_path):
    figure = plotting.make_flow_axes().figure
    with pytest.raises(ValueError):
        plotting.save_figure(figure, tmp_path / "figure.unknownformat")
    assert list(tmp_path.iterdir()) == []


def test_probability_flow_draws_sixteen_exact_trajectories(interp):
    figure = figures.probability_flow_figure()
    flow = figure.axes[0]
    white = [line for line in flow.lines if line.get_color() == "white"]
    assert len(white) == 16
    t, x = white[3].get_data()
    np.testing.assert_allclose(x, interp.flow_map(plotting.noise_quantiles(16)[3], 1.0, t), atol=1e-12)
    assert len(flow.images) == 1


def test_integration_trajectories_leave_one_line_and_land_apart(interp):
    flow = figures.integration_figure().axes[0]
    (line,) = [line for line in flow.lines if line.get_color() == plotting.LINE]
    black = [line for line in flow.lines if line.get_color() == "black" and len(line.get_xdata()) > 2]
    solid, dashed = sorted(black, key=lambda line: line.get_linestyle() != "-")
    t_line, x_line = line.get_data()
    for path, start in ((solid, 0.5), (dashed, 0.7)):
        t, x = path.get_data()
        assert t[-1] == start and t[0] == 0.0
        # the trajectory starts on the straight line and is the exact flow back to t = 0
        assert x[-1] == pytest.approx(np.interp(start, t_line, x_line), abs=1e-9)
        assert x[0] == pytest.approx(interp.flow_map(x[-1], start, 0.0), abs=1e-12)
    assert abs(solid.get_ydata()[0] - dashed.get_ydata()[0]) > 0.1


def test_posterior_slopes_average_to_the_flow_velocity(interp):
    # seed eq. 2: d x_t / dt = x_1 - x_0 for the linear schedule, and v_t(x) = E[x_1 - x_0 | x_t = x]
    t, x_t = 0.4, 0.2
    x_0 = interp.sample_posterior_x0(np.random.default_rng(0), 200_000, t, x_t)
    x_1 = (x_t - (1 - t) * x_0) / t
    slope = x_1 - x_0
    assert slope.mean() == pytest.approx(interp.velocity(t, x_t), abs=4 * slope.std() / 450)
    assert x_0.mean() == pytest.approx(interp.posterior_mean(t, x_t), abs=4 * x_0.std() / 450)


def test_slope_figure_lines_pass_through_the_point(interp):
    flow = figures.slope_distribution_figure(t=0.6, n_lines=20).axes[0]
    lines = [line for line in flow.lines if line.get_color() == plotting.LINE]
    assert len(lines) == 20
    x_t = interp.flow_map(plotting.noise_quantiles(16)[12], 1.0, 0.6)
    for line in lines:
        t, x = line.get_data()
        assert np.interp(0.6, t, x) == pytest.approx(x_t, abs=1e-9)


@pytest.mark.parametrize("t", [0.0, 1.0])
def test_slope_figure_needs_an_inner_time(t):
    with pytest.raises(ValueError, match="t must lie in"):
        figures.slope_distribution_figure(t=t)


def test_integration_figure_needs_ordered_times():
    with pytest.raises(ValueError, match="0 < s < t <= 1"):
        figures.integration_figure(s=0.7, t=0.5)
