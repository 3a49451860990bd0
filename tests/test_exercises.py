"""Classroom exercises: reference solutions pass, stubs and common mistakes get the right message.

For every exercise: the reference solution in notebooks/exercises/solutions/ passes its
checker; the stub exactly as a student finds it in the notebook fails with "not
implemented"; deliberately wrong variants are caught with the matching hint; an
exception in student code is reported with the input that raised it. The notebooks
execute headless with the solutions substituted (fill.py), and every check in them passes.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib

import numpy as np
import pytest

from cmtoy.exercises import (
    CheckResult, check_ct_loss, check_euler_flow, check_flow_map, check_interpolate,
    check_linear_silu_backward, check_marginal_pdf, check_multistep_sample, check_parametrize,
    check_posterior_mean, check_velocity, linear_silu_forward, numerical_gradient,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "notebooks" / "exercises"
SOLUTIONS = EXERCISES / "solutions"
NOTEBOOKS = sorted(EXERCISES.glob("*.ipynb"))

CHECKERS = {
    "interpolate": check_interpolate, "marginal_pdf": check_marginal_pdf,
    "posterior_mean": check_posterior_mean, "velocity": check_velocity,
    "flow_map": check_flow_map, "euler_flow": check_euler_flow,
    "linear_silu_backward": check_linear_silu_backward,
    "parametrize": check_parametrize, "ct_loss": check_ct_loss,
    "multistep_sample": check_multistep_sample,
}


def load(path):
    spec = importlib.util.spec_from_file_location(f"solution_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FILL = load(SOLUTIONS / "fill.py")
SOLVED = {}  # function name -> reference solution
for _path in sorted(SOLUTIONS.glob("0*.py")):
    _module = load(_path)
    SOLVED.update({name: getattr(_module, name) for name in CHECKERS if hasattr(_module, name)})


def stubs():
    """(notebook, function name, stub function) for every exercise cell, as a student finds it."""
    try:
        import nbformat
    except ImportError:  # the notebook tests skip themselves; nothing to collect here
        return []
    found = []
    for path in NOTEBOOKS:
        for cell in FILL.exercise_cells(nbformat.read(path, as_version=4)):
            namespace = {"np": np}
            exec(compile(cell.source, f"<{path.name}>", "exec"), namespace)
            found += [(path.name, name, namespace[name]) for name in FILL.defined_functions(cell.source)]
    return found


# -- solutions pass, stubs fail helpfully -----------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_reference_solution_passes(name):
    result = CHECKERS[name](SOLVED[name], quiet=True)
    assert isinstance(result, CheckResult)
    assert result.passed, result.message
    assert result.kind == "pass" and "agree" in result.message


def test_every_checker_has_a_stub_in_a_notebook():
    assert sorted(name for _, name, _ in stubs()) == sorted(CHECKERS)
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("notebook, name, stub", stubs(), ids=lambda v: v if isinstance(v, str) else "")
def test_unfilled_stub_fails_with_a_helpful_message(notebook, name, stub):
    result = CHECKERS[name](stub, quiet=True)
    assert not result.passed and result.kind == "stub"
    assert "not implemented yet" in result.message and "NotImplementedError" in result.message


def test_a_stub_returning_none_is_told_to_return(capsys):
    result = check_marginal_pdf(lambda t, x, mixture, schedule: None)
    assert not result.passed and "returned None" in result.message and "return" in result.message
    assert "check_marginal_pdf: NOT YET" in capsys.readouterr().out  # printed, not only returned


def test_student_exception_is_reported_with_its_input():
    def posterior_mean(t, x, mixture, schedule):
        return x / schedule.sigma(t) if t > 0.5 else {}["missing"]

    result = check_posterior_mean(posterior_mean, quiet=True)
    assert not result.passed and result.kind == "error"
    assert "raised KeyError" in result.message and "'missing'" in result.message
    assert "t = 0" in result.message  # the input that triggered it
    assert "posterior_mean" in result.message  # the student's own frame, with its line
    assert "checking.py" not in result.message  # and not the checker's frames


def test_result_renders_in_jupyter_and_as_text():
    good = check_interpolate(SOLVED["interpolate"], quiet=True)
    bad = check_interpolate(lambda x_0, x_1, t, schedule: x_0, quiet=True)
    assert "passed" in good._repr_html_() and "not yet" in bad._repr_html_()
    assert str(bad).startswith("check_interpolate: NOT YET") and bad.message in str(bad)
    assert repr(good) == "CheckResult(name='check_interpolate', passed=True)"
    assert "pass your function" in check_velocity(42, quiet=True).message


# -- wrong variants get the matching hint ----------------------------------------------------


def _posterior_with_prior_weights(t, x, mixture, schedule):
    a, s = schedule.alpha(t), schedule.sigma(t)
    x = np.asarray(x)[:, None]
    v = a * a * mixture.stds**2 + s * s
    return (mixture.means + a * mixture.stds**2 * (x - a * mixture.means) / v) @ mixture.weights


def _posterior_in_linear_space(t, x, mixture, schedule):
    a, s = schedule.alpha(t), schedule.sigma(t)
    x = np.asarray(x)[:, None]
    m, v = a * mixture.means, a * a * mixture.stds**2 + s * s
    joint = mixture.weights * np.exp(-0.5 * (x - m) ** 2 / v) / np.sqrt(v)
    return np.sum(joint * (mixture.means + a * mixture.stds**2 * (x - m) / v), -1) / joint.sum(-1)


def _marginal_without_alpha_in_variance(t, x, mixture, schedule):
    a, s = schedule.alpha(t), schedule.sigma(t)
    v = mixture.stds**2 + s * s
    x = np.asarray(x)[:, None]
    return (np.exp(-0.5 * (x - a * mixture.means) ** 2 / v) / np.sqrt(2 * np.pi * v)) @ mixture.weights


def _euler_with_linspace(x, t, s, velocity, n_steps):
    times = np.linspace(t, s, n_steps)
    for start, end in zip(times[:-1], times[1:]):
        x = x + (end - start) * velocity(start, x)
    return x


def _euler_slope_at_step_end(x, t, s, velocity, n_steps):
    h = (s - t) / n_steps
    for i in range(n_steps):
        x = x + h * velocity(t + (i + 1) * h, x)
    return x


def _backward_with(transform):
    def backward(x, W, b, d_y):
        return transform(*SOLVED["linear_silu_backward"](x, W, b, d_y), x, W, b, d_y)
    return backward


def _backward_sigmoid_as_derivative(x, W, b, d_y):
    h = x @ W + b
    d_h = d_y * 0.5 * (1 + np.tanh(0.5 * h))
    return d_h @ W.T, x.T @ d_h, d_h.sum(axis=0)


def _parametrize_without_sigma_in_c_out(F, t, x, schedule, sigma_d):
    a, s = schedule.alpha(t), schedule.sigma(t)
    A = a * a * sigma_d**2 + s * s
    return a * sigma_d**2 / A * x + sigma_d / np.sqrt(A) * F(t, x / np.sqrt(A))


def _parametrize_boundary_broken_differently(F, t, x, schedule, sigma_d):
    return x + 0.1 * F(t, x)  # no known formula, but f(0, x) != x


def _ct_loss_times_swapped(f_online, f_target, x_0, x_1, t, s, schedule):
    x_t = schedule.alpha(t) * x_0 + schedule.sigma(t) * x_1
    x_s = schedule.alpha(s) * x_0 + schedule.sigma(s) * x_1
    return float(np.mean((f_online(s, x_s) - f_target(t, x_t)) ** 2))


def _ct_loss_without_target_net(f_online, f_target, x_0, x_1, t, s, schedule):
    return SOLVED["ct_loss"](f_online, f_online, x_0, x_1, t, s, schedule)


def _sampler_ve_renoise(f, rng, n, times, schedule):
    x_0 = f(1.0, rng.standard_normal(n))
    for tau in times[1:]:
        x_0 = f(tau, x_0 + schedule.sigma(tau) * rng.standard_normal(n))
    return x_0


def _sampler_off_by_one_time(f, rng, n, times, schedule):
    x_0 = f(1.0, rng.standard_normal(n))
    for previous, tau in zip(times[:-1], times[1:]):
        x_0 = f(previous, schedule.alpha(tau) * x_0 + schedule.sigma(tau) * rng.standard_normal(n))
    return x_0


WRONG = [
    ("interpolate", lambda x_0, x_1, t, sch: sch.sigma(t) * x_0 + sch.alpha(t) * x_1, "alpha_t multiplies the data"),
    ("interpolate", lambda x_0, x_1, t, sch: sch.alpha(t) * x_0 - sch.sigma(t) * x_1, "wrong sign"),
    ("interpolate", lambda x_0, x_1, t, sch: (1 - t) * x_0 + t * x_1, "1 - t and t are only"),
    ("marginal_pdf", _marginal_without_alpha_in_variance, "alpha_t^2 s_k^2 (alpha_t squared"),
    ("posterior_mean", _posterior_with_prior_weights, "not with the prior weights"),
    ("posterior_mean", _posterior_in_linear_space, "underflows"),
    ("velocity", lambda t, x, i: -i.velocity(t, x), "wrong sign"),
    ("velocity", lambda t, x, i: i.schedule.alpha(t) * i.posterior_mean(t, x) + i.schedule.sigma(t) * i.noise_mean(t, x),
     "time DERIVATIVES"),
    ("flow_map", lambda x, t, s, i: i.ppf(t, i.cdf(s, x)), "t and s are swapped"),
    ("flow_map", lambda x, t, s, i: i.cdf(t, x), "is a probability, not a point"),
    ("euler_flow", _euler_with_linspace, "n_steps - 1 steps"),
    ("euler_flow", _euler_slope_at_step_end, "off by one in time"),
    ("linear_silu_backward", _backward_with(lambda d_x, d_W, d_b, *_: (d_x, d_W.T, d_b)), "transpose"),
    ("linear_silu_backward", _backward_with(lambda d_x, d_W, d_b, x, W, b, d_y: (d_x, d_W, d_b / len(x))),
     "SUM of d_h over the batch"),
    ("linear_silu_backward", _backward_sigmoid_as_derivative, "silu'(h) is not sigmoid(h)"),
    ("linear_silu_backward", _backward_with(lambda d_x, d_W, d_b, *_: (-d_x, -d_W, -d_b)), "wrong sign"),
    ("parametrize", _parametrize_without_sigma_in_c_out, "boundary condition f(0, x) = x breaks"),
    ("parametrize", _parametrize_boundary_broken_differently, "the boundary condition is broken"),
    ("ct_loss", _ct_loss_times_swapped, "LATER, noisier point"),
    ("ct_loss", _ct_loss_without_target_net, "uses f_target"),
    ("multistep_sample", _sampler_ve_renoise, "alpha_tau factor is missing"),
    ("multistep_sample", _sampler_off_by_one_time, "off by one in time"),
]


@pytest.mark.parametrize("name, wrong, hint", WRONG, ids=[f"{n}-{h[:24]}" for n, _, h in WRONG])
def test_wrong_variant_gets_the_matching_hint(name, wrong, hint):
    result = CHECKERS[name](wrong, quiet=True)
    assert not result.passed and result.kind == "hint", result.message
    assert hint in result.message, result.message


def test_unrecognised_wrong_answer_gets_the_worst_point_and_factor():
    result = check_marginal_pdf(lambda t, x, m, s: 1.01 * SOLVED["marginal_pdf"](t, x, m, s), quiet=True)
    assert not result.passed and result.kind == "mismatch"
    assert "largest difference" in result.message and "times 1.01" in result.message


def test_sampler_with_another_draw_order_passes_in_distribution():
    def reversed_draws(f, rng, n, times, schedule):
        noise = rng.standard_normal((len(times), n))[::-1]
        x_0 = f(1.0, noise[0])
        for tau, z in zip(times[1:], noise[1:]):
            x_0 = f(tau, schedule.alpha(tau) * x_0 + schedule.sigma(tau) * z)
        return x_0

    result = check_multistep_sample(reversed_draws, quiet=True)
    assert result.passed and "distribution matches" in result.message
    one_step_only = check_multistep_sample(lambda f, rng, n, times, sch: f(1.0, rng.standard_normal(n)), quiet=True)
    assert not one_step_only.passed and "use every time" in one_step_only.message


# -- the checker's own references --------------------------------------------------------------


def test_finite_difference_reference_matches_the_analytic_backward():
    rng = np.random.default_rng(0)
    x, W, b, d_y = rng.standard_normal((3, 2)), rng.standard_normal((2, 4)), rng.standard_normal(4), rng.standard_normal((3, 4))
    loss = lambda: float(np.sum(d_y * linear_silu_forward(x, W, b)))  # noqa: E731
    for got, a in zip(SOLVED["linear_silu_backward"](x, W, b, d_y), (x, W, b)):
        np.testing.assert_allclose(got, numerical_gradient(loss, a), rtol=1e-7, atol=1e-9)


def test_references_agree_with_cmtoy_training_modules():
    """Exercise 5 and 6 references are written from the formulas; cmtoy's modules must agree."""
    consistency = pytest.importorskip("cmtoy.consistency")
    sampling = pytest.importorskip("cmtoy.sampling")
    mlp = pytest.importorskip("cmtoy.mlp")
    import cmtoy

    schedule, sigma_d, rng = cmtoy.CosineSchedule(), 0.7, np.random.default_rng(3)
    t = np.array([0.0, 0.3, 1.0])
    c_skip, c_out, c_in = consistency.scalings(schedule, sigma_d, t)
    F = lambda t_, u: np.sin(u) + t_  # noqa: E731
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(SOLVED["parametrize"](F, t, x, schedule, sigma_d), c_skip * x + c_out * F(t, c_in * x))

    config = mlp.MLPConfig(width=8, depth=2, n_fourier=2)
    model = consistency.ConsistencyModel(schedule, sigma_d, mlp.init_params(config, rng))
    target_params = mlp.init_params(config, rng)
    x_0, x_1, t_late = rng.standard_normal(16), rng.standard_normal(16), rng.uniform(0.1, 1.0, 16)
    t_early = 0.7 * t_late
    at = lambda time: schedule.alpha(time) * x_0 + schedule.sigma(time) * x_1  # noqa: E731
    theirs, _ = consistency.consistency_loss(model, model.params, target_params, t_early, at(t_early),
                                             t_late, at(t_late), np.ones(16))
    ours = SOLVED["ct_loss"](model, model.with_params(target_params), x_0, x_1, t_late, t_early, schedule)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)

    exact = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, schedule)
    exact_model = lambda t_, x_: exact.consistency_function(t_, x_)  # noqa: E731
    exact_model.schedule = schedule  # what cmtoy.sampling.sample needs besides model(t, x)
    theirs = sampling.sample(exact_model, np.random.default_rng(3), 50, times=(1.0, 0.6, 0.2))
    ours = SOLVED["multistep_sample"](exact_model, np.random.default_rng(3), 50, (1.0, 0.6, 0.2), schedule)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_backward_solution_agrees_with_cmtoy_mlp():
    """The first layer of cmtoy's MLP is a linear + SiLU layer: its gradients match exercise 4."""
    mlp = pytest.importorskip("cmtoy.mlp")
    rng = np.random.default_rng(4)
    params = mlp.init_params(mlp.MLPConfig(width=5, depth=1, n_fourier=0, activation="silu"), rng)
    t, x, d_out = rng.uniform(0, 1, 7), rng.standard_normal(7), rng.standard_normal(7)
    grads = mlp.backward(params, mlp.forward(params, t, x)[1], d_out)
    h_0 = np.stack([x, t], axis=1)  # the input layer without time features: [x, t]
    d_y = d_out[:, None] @ params.W[1].T  # through the linear output layer
    _, d_W, d_b = SOLVED["linear_silu_backward"](h_0, params.W[0], params.b[0], d_y)
    np.testing.assert_allclose(d_W, grads.W[0], rtol=1e-12)
    np.testing.assert_allclose(d_b, grads.b[0], rtol=1e-12, atol=1e-15)


# -- the notebooks --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_exercise_notebook_is_clean_and_has_its_solution(path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and "$" in nb.cells[0].source  # the idea, with equations
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: clear outputs before committing"
    tagged = FILL.exercise_cells(nb)
    assert tagged and all("raise NotImplementedError" in cell.source for cell in tagged)
    source = "".join(cell.source for cell in nb.cells)
    assert all(f"check_{n}({n})" in source for c in tagged for n in FILL.defined_functions(c.source))
    FILL.fill(nb, SOLUTIONS / f"{path.stem}.py")  # every exercise cell has a solution (KeyError otherwise)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_exercise_notebook_executes_with_solutions(path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = FILL.fill(nbformat.read(path, as_version=4), SOLUTIONS / f"{path.stem}.py")
    env = dict(os.environ, MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    n_checks = sum(cell.source.startswith("check_") for cell in nb.cells if cell.cell_type == "code")
    assert n_checks >= 1 and text.count(": PASSED") == n_checks, text
    assert "NOT YET" not in text and "Warning" not in text, text
