"""The explorers' logic, driven from Python: a knob moves exactly the data it should."""

import ipywidgets
import numpy as np
import pytest

import cmtoy
from cmtoy import ExactModel
from cmtoy.viz.learned_widgets import SamplingExplorer, TrainingExplorer, sampling_times
from cmtoy.metrics import induction_error
from cmtoy.viz.plotting import noise_quantiles
from cmtoy.sampling import sample
from cmtoy.viz.widgets import InductiveStepExplorer, ProbabilityFlowExplorer


@pytest.fixture(scope="module")
def fresh():
    return ProbabilityFlowExplorer()


@pytest.fixture
def flow():
    return ProbabilityFlowExplorer()


def path_data(explorer):
    """The drawn trajectories as (ts [m], paths [m, n])."""
    lines = explorer.artists["paths"]
    return lines[0].get_xdata(), np.stack([line.get_ydata() for line in lines], axis=1)


def test_default_paths_are_the_exact_flow_of_the_seed_mixture(fresh):
    ts, paths = path_data(fresh)
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, "linear")
    assert paths.shape == (ts.size, 16)
    np.testing.assert_allclose(paths, interp.trajectories(noise_quantiles(16), ts), atol=1e-12)
    assert fresh.png.startswith(b"\x89PNG")


def test_moving_a_mean_redraws_paths_density_and_marginal_for_the_new_mixture(flow):
    before = flow.png
    assert flow.set(mean_2=1.5) == {"mean_2"}
    interp = cmtoy.Interpolant(cmtoy.GaussianMixture([-1.0, 1.5], [0.1, 0.1], [0.8, 0.2]), "linear")
    ts, paths = path_data(flow)
    np.testing.assert_allclose(paths, interp.trajectories(noise_quantiles(16), ts), atol=1e-12)
    line = flow.artists["x_0"][0]
    np.testing.assert_allclose(line.get_xdata(), interp.pdf(0.0, line.get_ydata()))
    image = flow.artists["density"][0].get_array()
    assert image.max() == pytest.approx(interp.pdf(np.linspace(0, 1, 200)[None], np.linspace(-3, 3, 150)[:, None]).max(), rel=0.05)
    assert flow.png != before


def test_a_third_component_switches_on_with_its_weight(flow):
    flow.set(weight_3=0.5, mean_3=0.0, std_3=0.2)
    mixture = flow.interpolant.target
    np.testing.assert_allclose(mixture.means, [-1.0, 2.0, 0.0])
    np.testing.assert_allclose(mixture.weights, np.array([0.8, 0.2, 0.5]) / 1.5)


def test_the_time_slider_moves_only_the_slice(flow):
    ts, paths = path_data(flow)
    density = flow.artists["density"][0].get_array().copy()
    flow.set(t=0.3)
    rule, curve = flow.artists["slice"]
    np.testing.assert_array_equal(rule.get_xdata(), [0.3, 0.3])
    p = flow.interpolant.pdf(0.3, curve.get_ydata())
    np.testing.assert_allclose(curve.get_xdata(), 0.3 + flow.slice_width * p / p.max())
    np.testing.assert_array_equal(path_data(flow)[1], paths)
    np.testing.assert_array_equal(flow.artists["density"][0].get_array(), density)


def test_number_of_trajectories_and_schedule(flow):
    flow.set(n_trajectories=5, schedule="cosine")
    ts, paths = path_data(flow)
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, cmtoy.CosineSchedule())
    np.testing.assert_allclose(paths, interp.trajectories(noise_quantiles(5), ts), atol=1e-12)
    alpha_line = flow.artists["schedule"][0]
    np.testing.assert_allclose(alpha_line.get_ydata(), np.cos(np.pi * alpha_line.get_xdata() / 2), atol=1e-12)


def test_blitted_frames_equal_a_fresh_render(flow):
    """Redrawing only what moved gives the same pixels as drawing everything anew."""
    for values in [dict(t=0.8), dict(mean_1=-0.5), dict(n_trajectories=9), dict(t=0.1), dict(schedule="cosine")]:
        flow.set(**values)
    assert flow.png == ProbabilityFlowExplorer(**flow.values).png


def test_an_impossible_mixture_is_refused_with_a_message(flow):
    before, values = flow.png, dict(flow.values)
    assert flow.set(weight_1=0.0, weight_2=0.0) == set()
    assert "weight" in flow.message
    assert flow.values == values and flow.png == before
    flow.set(weight_1=0.5)
    assert flow.message == "" and flow.values["weight_2"] == 0.2  # the refused move left no trace


@pytest.mark.parametrize(
    "values, words",
    [
        (dict(colour=1), "unknown knob"),
        (dict(schedule="quadratic"), "schedule"),
        (dict(n_trajectories=0), "n_trajectories"),
        (dict(t=1.5), "t must be a multiple of 0.01 in \\[0, 1\\]"),
        (dict(weight_1=-0.05), "weight_1"),
        (dict(n_trajectories=10**5), "n_trajectories must be an integer in \\[1, 64\\]"),
        (dict(mean_1=0.333), "mean_1 must be a multiple of 0.05"),
    ],
)
def test_bad_knob_values_are_named(flow, values, words):
    with pytest.raises(ValueError, match=words):
        flow.set(**values)


def test_the_ipywidgets_drive_the_same_explorer(flow):
    box = flow.widget()
    sliders = {w.description: w for w in box.children[0].children}
    image, status = box.children[1], box.children[0].children[-1]
    before = image.value
    sliders["t (slice)"].value = 0.7  # what a browser does when the slider moves
    assert flow.values["t"] == 0.7 and image.value == flow.png != before
    flow.set(mean_1=-1.5)  # and code moves the slider
    assert sliders["mean 1"].value == -1.5
    for name in ("weight 1", "weight 2", "weight 3"):
        sliders[name].value = 0.0
    assert flow.values["weight_1"] == 0.0 and flow.values["weight_2"] == 0.2  # last one refused
    assert "weight" in status.value


@pytest.fixture(scope="module")
def step():
    return InductiveStepExplorer()


def test_inductive_step_lands_both_points_with_the_exact_flow(step):
    step.set(t=0.4, dt=0.1, x_0=-1.0, x_1=1.2)
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, "linear")
    points, ends = step.artists["pair"][3:5]
    np.testing.assert_allclose(points.get_xdata(), [0.4, 0.5])
    np.testing.assert_allclose(points.get_ydata(), [0.6 * -1.0 + 0.4 * 1.2, 0.5 * -1.0 + 0.5 * 1.2])
    expected = [interp.flow_map(np.array([x]), s, 0.0)[0] for s, x in zip([0.4, 0.5], points.get_ydata())]
    np.testing.assert_allclose(ends.get_ydata(), expected, atol=1e-12)
    gap_dot = step.artists["pair"][-1]
    np.testing.assert_allclose(gap_dot.get_ydata(), [abs(expected[1] - expected[0])], atol=1e-12)


def test_the_landing_gap_shrinks_with_dt_and_the_curves_follow_t(step):
    step.set(t=0.4, x_0=-1.0, x_1=1.2, dt=0.1)
    wide = step.artists["pair"][-1].get_ydata()[0]
    step.set(dt=0.002)
    assert step.artists["pair"][-1].get_ydata()[0] < wide / 10  # the gap is O(dt)
    step.set(t=0.6)
    spread = step.artists["curves"][0]
    curve = induction_error(step.interp, 0.6, np.geomspace(1e-3, 0.4, 10), n=64)
    np.testing.assert_allclose(spread.get_ydata(), curve.spread)


def test_inductive_step_refuses_t_plus_dt_beyond_one(step):
    step.set(t=0.5, dt=0.2)
    assert step.set(t=0.9) == set() and "t + dt" in step.message
    assert step.values["t"] == 0.5


def test_training_explorer_draws_the_model_it_trains():
    trainer = TrainingExplorer(steps=100, batch=64)
    progress = ipywidgets.IntProgress()
    model, history = trainer.train(progress)
    assert progress.value == progress.max == 100
    first = trainer.artists["curves"][0]  # f_theta(0.1, .)
    x = first.get_xdata()
    # ct trains a float32 network: the plot evaluates all curves in one batch and this call
    # in another, and float32 matrix products of different shapes round differently
    np.testing.assert_allclose(first.get_ydata(), model(np.full_like(x, 0.1), x), rtol=1e-5, atol=1e-6)
    w1_line = trainer.artists["curves"][4]
    assert list(w1_line.get_xdata()) == [e["step"] for e in history["evals"]] == list(range(10, 101, 10))
    assert list(w1_line.get_ydata()) == [e["w1_1step"] for e in history["evals"]]
    with pytest.raises(ValueError, match="method"):
        trainer.set(method="gan")
    # a final N below the method's first N (ict starts at 16) shortens the curriculum
    trainer.set(method="ict", n_max=10)
    assert (trainer.config.method, trainer.config.n_min, trainer.config.n_max) == ("ict", 10, 10)
    assert trainer.config.warmup == 5  # ict warms up for 5% of the 100 steps (at most a tenth)


def test_sampling_times():
    assert sampling_times(1, 0.5) == (1.0,)
    np.testing.assert_allclose(sampling_times(4, 0.6), [1.0, 0.6, 0.4, 0.2])


def test_sampling_explorer_histograms_the_model_samples_and_scores_them_exactly():
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, "linear")
    exact = ExactModel(interp)
    sampler = SamplingExplorer(exact, interp, n_samples=5000)
    assert sampler.w1 == sampler.w1_exact < 0.05  # the exact f* is the floor
    shifted = lambda t, x: exact(t, x) + 0.3  # noqa: E731  a model off by 0.3 everywhere
    shifted.schedule = interp.schedule
    sampler = SamplingExplorer(shifted, interp, n_samples=5000)
    assert sampler.w1 == pytest.approx(0.3, abs=0.05)
    sampler.set(n_evals=3, t_mid=0.6)
    samples = sample(shifted, np.random.default_rng(0), 5000, times=(1.0, 0.6, 0.3))
    heights = sampler.artists["samples"][0].get_data().values
    np.testing.assert_allclose(heights, np.histogram(samples, sampler.bins, density=True)[0])
    with pytest.raises(ValueError, match="n_evals"):
        sampler.set(n_evals=0)
