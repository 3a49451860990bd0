"""The figure template and the drawing blocks: what they draw is the exact math."""

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import special

import cmtoy
from cmtoy.viz import plotting


@pytest.fixture
def interp():
    return cmtoy.Interpolant(cmtoy.SEED_MIXTURE, cmtoy.LinearSchedule())


def png_bytes(figure, dpi=40):
    stream = io.BytesIO()
    figure.savefig(stream, format="png", dpi=dpi, metadata={"Software": None})
    return stream.getvalue()


def test_importing_plotting_leaves_rcparams_alone():
    assert matplotlib.rcParams["font.family"] != plotting.STYLE["font.family"]
    assert matplotlib.rcParams["mathtext.fontset"] != plotting.STYLE["mathtext.fontset"]


def test_template_shares_axes_like_the_seed_figure():
    axes = plotting.make_flow_axes(x_lim=(-2.0, 4.0))
    assert axes.figure.axes == [axes.flow, axes.x_0, axes.x_1, axes.schedule]
    assert axes.x_0.get_shared_y_axes().joined(axes.x_0, axes.flow)
    assert axes.x_1.get_shared_y_axes().joined(axes.x_1, axes.flow)
    assert axes.schedule.get_shared_x_axes().joined(axes.schedule, axes.flow)
    assert axes.flow.get_ylim() == (-2.0, 4.0) and axes.flow.get_xlim() == (0.0, 1.0)
    assert [axes.x_0.get_xlabel(), axes.flow.get_xlabel(), axes.x_1.get_xlabel()] == [
        "$p(x_0)$", "$t$", "$p(x_1)$"]
    # the side panels sit left and right of the middle one, the strip above it
    left, middle, right, top = (a.get_position() for a in
                                (axes.x_0, axes.flow, axes.x_1, axes.schedule))
    assert left.x1 < middle.x0 and middle.x1 < right.x0 and middle.y1 < top.y0
    assert np.isclose(middle.width, 8 * left.width) and np.isclose(top.height, middle.height / 4)


def test_template_draws_on_a_given_figure():
    figure = Figure()
    assert plotting.make_flow_axes(figure).figure is figure


@pytest.mark.parametrize("x_lim", [(1.0, -1.0), (0.0, 0.0), (0.0, 1.0, 2.0)])
def test_template_rejects_bad_limits(x_lim):
    with pytest.raises(ValueError, match="x_lim"):
        plotting.make_flow_axes(x_lim=x_lim)


def test_figures_drawn_outside_the_style_look_the_same(interp):
    # notebook canvases draw later, outside any context: the look must not depend on it
    axes = plotting.make_flow_axes()
    plotting.plot_schedule(axes.schedule, interp.schedule)
    plotting.plot_points(axes.flow, [0.5], [1.0], [r"$(t, x_t)$"], [(0, 10)])
    with plotting.figure_style():
        inside = png_bytes(axes.figure)
    assert png_bytes(axes.figure) == inside
    with matplotlib.rc_context({"font.family": "sans-serif", "mathtext.fontset": "dejavusans"}):
        plain = plotting.make_flow_axes()
        plotting.plot_schedule(plain.schedule, interp.schedule)
        plotting.plot_points(plain.flow, [0.5], [1.0], [r"$(t, x_t)$"], [(0, 10)])
    assert png_bytes(plain.figure) == inside  # the blocks bring their own style


def test_noise_quantiles_are_evenly_spaced_in_probability():
    x_1 = plotting.noise_quantiles(16)
    np.testing.assert_allclose(special.ndtr(x_1), (np.arange(16) + 0.5) / 16, rtol=1e-12)
    np.testing.assert_allclose(x_1, -x_1[::-1], atol=1e-15)


@pytest.mark.parametrize("n", [0, -3, 2.5, True, "8"])
def test_noise_quantiles_reject_bad_counts(n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        plotting.noise_quantiles(n)


@pytest.mark.parametrize("schedule", [cmtoy.LinearSchedule(), cmtoy.CosineSchedule()])
def test_interpolant_paths_join_x0_to_x1(schedule):
    x_0, x_1 = np.array([-1.0, 2.0, 0.5]), np.array([0.3, -1.2, 2.0])
    ts = np.linspace(0.0, 1.0, 11)
    paths = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, schedule).interpolate(ts[:, None], x_0, x_1)
    assert paths.shape == (11, 3)
    np.testing.assert_allclose(paths[0], x_0, atol=1e-15)
    np.testing.assert_allclose(paths[-1], x_1, atol=1e-15)
    np.testing.assert_allclose(paths[4], schedule.alpha(0.4) * x_0 + schedule.sigma(0.4) * x_1)


def test_paths_update_in_place(interp):
    axes = plotting.make_flow_axes()
    ts = np.linspace(0.0, 1.0, 65)
    lines = plotting.plot_paths(axes.flow, ts, interp.trajectories(plotting.noise_quantiles(4), ts))
    assert len(lines) == 4
    new = interp.trajectories(plotting.noise_quantiles(5)[:4], ts)
    plotting.update_paths(lines, ts, new)
    np.testing.assert_array_equal(lines[2].get_ydata(), new[:, 2])
    with pytest.raises(ValueError, match="3 paths for 4 lines"):
        plotting.update_paths(lines, ts, new[:, :3])


def test_schedule_strip_follows_the_schedule():
    axes = plotting.make_flow_axes()
    artists = plotting.plot_schedule(axes.schedule, cmtoy.LinearSchedule())
    t, alpha = artists[0].get_data()
    np.testing.assert_allclose(alpha, 1.0 - t)
    plotting.update_schedule(artists, cmtoy.CosineSchedule())
    t, sigma = artists[1].get_data()
    np.testing.assert_allclose(sigma, np.sin(np.pi * t / 2))
    assert artists[2].get_text() == r"$\alpha_t$" and artists[3].get_text() == r"$\sigma_t$"


def test_marginal_is_drawn_sideways_and_fills_its_panel(interp):
    axes = plotting.make_flow_axes()
    x = np.linspace(-3.0, 3.0, 301)
    line = plotting.plot_marginal(axes.x_0, x, interp.pdf(0.0, x))
    np.testing.assert_array_equal(line.get_ydata(), x)
    assert axes.x_0.get_xlim() == (0.0, pytest.approx(1.05 * interp.pdf(0.0, x).max()))
    plotting.update_marginal(line, x, interp.pdf(1.0, x))
    assert axes.x_0.get_xlim()[1] == pytest.approx(1.05 / np.sqrt(2 * np.pi), rel=1e-4)


def test_density_image_is_the_exact_marginal_on_cell_centres(interp):
    axes = plotting.make_flow_axes()
    image = plotting.plot_density(axes.flow, interp, n_t=40, n_x=30)
    p = image.get_array()
    assert p.shape == (30, 40)
    # cell (row 0, column 0) is centred at t = 1/80, x = -3 + 6/60
    assert p[0, 0] == pytest.approx(interp.pdf(1 / 80, -3.0 + 0.1), rel=1e-12)
    assert p[17, 23] == pytest.approx(interp.pdf(23.5 / 40, -3.0 + 17.5 * 0.2), rel=1e-12)
    # bands are halvings of the maximum; the two top bands share the top colour
    bounds = image.norm.boundaries
    np.testing.assert_allclose(bounds[1:], p.max() * 2.0 ** np.arange(-8, 1))
    colors = image.cmap(np.arange(image.cmap.N))
    np.testing.assert_array_equal(colors[-1], colors[-2])
    assert len({tuple(c) for c in colors}) == image.cmap.N - 1


def test_density_updates_in_place_for_another_interpolant(interp):
    axes = plotting.make_flow_axes()
    image = plotting.plot_density(axes.flow, interp, n_t=20, n_x=10)
    cosine = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, cmtoy.CosineSchedule())
    plotting.update_density(image, cosine)
    assert image.get_array()[4, 9] == pytest.approx(cosine.pdf(9.5 / 20, -3.0 + 4.5 * 0.6))
    assert list(axes.flow.images) == [image]


def test_points_and_arrow_are_placed_in_data_coordinates():
    axes = plotting.make_flow_axes()
    dots, texts = plotting.plot_points(axes.flow, [0.2, 0.7], [1.0, -1.0], ["a", "b"],
                                       [(0, 5), (0, -5)])
    np.testing.assert_array_equal(dots.get_xdata(), [0.2, 0.7])
    assert [text.xy for text in texts] == [(0.2, 1.0), (0.7, -1.0)]
    arrow = plotting.plot_arrow(axes.flow, (0.5, 1.0), (0.0, 2.0), curvature=0.3)
    assert arrow.xy == (0.0, 2.0) and arrow.xyann == (0.5, 1.0)
