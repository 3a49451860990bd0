"""Classroom exercises: reference solutions pass, stubs and common mistakes get the right message.

The nbgrader source notebooks in notebooks/exercises/source/ are the single source of
truth: their solution cells (between nbgrader's solution markers) are the reference
solutions, and the stubs are the solution cells of the released student notebooks in
notebooks/exercises/release/ (tests/test_nbgrader_course.py keeps those in sync with
nbgrader). For every exercise: the reference solution passes its checker; the stub
exactly as a student finds it fails with "not implemented"; deliberately wrong variants
are caught with the matching hint; an exception in student code is reported with the
input that raised it; a function that never returns is stopped; a scalar or wrongly
shaped answer gets a hint. The source notebooks execute headless and every check passes.
"""

from __future__ import annotations

import ast
import os
import pathlib
import threading
import time

import numpy as np
import pytest

from cmtoy.exercises import (
    CheckResult, check_ct_loss, check_euler_flow, check_flow_map, check_interpolate,
    check_linear_silu_backward, check_marginal_pdf, check_multistep_sample, check_parametrize,
    check_posterior_mean, check_velocity, linear_silu_forward, numerical_gradient,
)
from cmtoy.exercises.checking import TIME_LIMIT
from cmtoy.exercises.messages import WIDTH, wrap

nbformat = pytest.importorskip("nbformat")

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "notebooks" / "exercises"
SOURCES = sorted((EXERCISES / "source").glob("*/*.ipynb"))
RELEASES = sorted((EXERCISES / "release").glob("*/*.ipynb"))

CHECKERS = {
    "interpolate": check_interpolate, "marginal_pdf": check_marginal_pdf,
    "posterior_mean": check_posterior_mean, "velocity": check_velocity,
    "flow_map": check_flow_map, "euler_flow": check_euler_flow,
    "linear_silu_backward": check_linear_silu_backward,
    "parametrize": check_parametrize, "ct_loss": check_ct_loss,
    "multistep_sample": check_multistep_sample,
}


def solution_cells(nb):
    """The code cells a student fills in: nbgrader solution cells (also tagged ``exercise``)."""
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def defined_functions(source):
    """Names of the top-level functions a piece of code defines, in order."""
    return [node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]


def functions_of(path):
    """{name: function} defined by a notebook's solution cells, run after its first (imports) cell."""
    nb = nbformat.read(path, as_version=4)
    namespace = {}
    imports = next(c for c in nb.cells if c.cell_type == "code")
    exec(compile(imports.source, f"<{path.name}: imports>", "exec"), namespace)
    found = {}
    for cell in solution_cells(nb):
        exec(compile(cell.source, f"<{path.name}>", "exec"), namespace)
        found.update({name: namespace[name] for name in defined_functions(cell.source)})
    return found


def flat(message):
    """The message with its line wrapping undone, for substring checks."""
    return " ".join(message.split())


SOLVED = {name: fn for path in SOURCES for name, fn in functions_of(path).items()}


def stubs():
    """(notebook, function name, stub function) for every exercise cell, as a student finds it."""
    return [(path.name, name, fn) for path in RELEASES for name, fn in functions_of(path).items()]


# -- solutions pass, stubs fail helpfully -----------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_reference_solution_passes(name):
    result = CHECKERS[name](SOLVED[name], quiet=True)
    assert isinstance(result, CheckResult)
    assert result.passed, result.message
    assert result.kind == "pass" and "agree" in result.message


def test_every_checker_has_a_solution_and_a_stub():
    assert len(SOURCES) == len(RELEASES) == 6
    assert sorted(SOLVED) == sorted(CHECKERS)
    assert sorted(name for _, name, _ in stubs()) == sorted(CHECKERS)


@pytest.mark.parametrize("notebook, name, stub", stubs(), ids=lambda v: v if isinstance(v, str) else "")
def test_unfilled_stub_fails_with_a_helpful_message(notebook, name, stub):
    result = CHECKERS[name](stub, quiet=True)
    assert not result.passed and result.kind == "stub"
    assert "not implemented yet" in flat(result.message) and "NotImplementedError" in result.message


def test_a_stub_returning_none_is_told_to_return(capsys):
    result = check_marginal_pdf(lambda t, x, mixture, schedule: None)
    assert not result.passed and "returned None" in flat(result.message) and "return" in result.message
    assert "check_marginal_pdf: NOT YET" in capsys.readouterr().out  # printed, not only returned


def test_student_exception_is_reported_with_its_input():
    def posterior_mean(t, x, mixture, schedule):
        return x / schedule.sigma(t) if t > 0.5 else {}["missing"]

    result = check_posterior_mean(posterior_mean, quiet=True)
    assert not result.passed and result.kind == "error"
    assert "raised KeyError" in flat(result.message) and "'missing'" in result.message
    assert "t = 0" in result.message  # the input that triggered it
    assert "posterior_mean" in result.message  # the student's own frame, with its line
    assert "checking.py" not in result.message  # and not the checker's frames


def test_result_renders_in_jupyter_and_as_text():
    good = check_interpolate(SOLVED["interpolate"], quiet=True)
    bad = check_interpolate(lambda x_0, x_1, t, schedule: x_0, quiet=True)
    assert "passed" in good._repr_html_() and "not yet" in bad._repr_html_()
    assert str(bad).startswith("check_interpolate: NOT YET") and bad.message in str(bad)
    assert repr(good) == "CheckResult(name='check_interpolate', passed=True)"
    assert "pass your function" in flat(check_velocity(42, quiet=True).message)


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
    assert hint in flat(result.message), result.message
    assert_short(result.message)


def test_unrecognised_wrong_answer_gets_the_worst_point_and_factor():
    result = check_marginal_pdf(lambda t, x, m, s: 1.01 * SOLVED["marginal_pdf"](t, x, m, s), quiet=True)
    assert not result.passed and result.kind == "mismatch"
    assert "largest difference" in result.message and "times 1.01" in flat(result.message)


def test_sampler_with_another_draw_order_passes_in_distribution():
    def reversed_draws(f, rng, n, times, schedule):
        noise = rng.standard_normal((len(times), n))[::-1]
        x_0 = f(1.0, noise[0])
        for tau, z in zip(times[1:], noise[1:]):
            x_0 = f(tau, schedule.alpha(tau) * x_0 + schedule.sigma(tau) * z)
        return x_0

    result = check_multistep_sample(reversed_draws, quiet=True)
    assert result.passed and "distribution matches" in flat(result.message)
    one_step_only = check_multistep_sample(lambda f, rng, n, times, sch: f(1.0, rng.standard_normal(n)), quiet=True)
    assert not one_step_only.passed and "use every time" in flat(one_step_only.message)


def assert_short(message):
    """A few lines of at most WIDTH characters (a longer line is one unbreakable word), no array dump."""
    lines = message.splitlines()
    assert all(len(line) <= WIDTH or len(line.split()) == 1 for line in lines), message
    assert len(lines) <= 12, message


# -- the classroom issue: specific hints, short messages --------------------------------------------


def _marginal_without_weights(t, x, mixture, schedule):
    a, s = schedule.alpha(t), schedule.sigma(t)
    v = a * a * mixture.stds**2 + s * s
    x = np.asarray(x)[:, None]
    return np.sum(np.exp(-0.5 * (x - a * mixture.means) ** 2 / v) / np.sqrt(2 * np.pi * v), axis=1)


def _backward_without_transpose_in_d_x(x, W, b, d_y):
    h = x @ W + b
    s = 0.5 * (1 + np.tanh(0.5 * h))
    d_h = d_y * s * (1 + h * (1 - s))
    d_x = d_h @ W  # the mistake: W, not W.T
    return d_x, x.T @ d_h, d_h.sum(axis=0)


def test_marginal_without_the_weights_gets_the_weights_hint():
    result = check_marginal_pdf(_marginal_without_weights, quiet=True)
    assert result.kind == "hint" and "mixture weights are missing" in flat(result.message), result.message
    assert_short(result.message)


def test_missing_transpose_in_d_x_gets_a_transpose_hint_not_a_raw_matmul_error():
    result = check_linear_silu_backward(_backward_without_transpose_in_d_x, quiet=True)
    assert not result.passed
    assert "check the transpose of W in d_x" in flat(result.message), result.message
    assert "d_x = d_h @ W" in result.message  # the student's own line is still shown
    assert_short(result.message)


def test_gradients_in_the_wrong_order_are_named():
    reordered = _backward_with(lambda d_x, d_W, d_b, *_: (d_W, d_x, d_b))
    result = check_linear_silu_backward(reordered, quiet=True)
    assert result.kind == "hint", result.message
    assert "you returned (d_W, d_x, d_b): return them in the order (d_x, d_W, d_b)" in flat(result.message)
    assert_short(result.message)


def test_messages_summarise_arrays():
    result = check_linear_silu_backward(_backward_with(lambda d_x, d_W, d_b, *_: (1.5 * d_x, d_W, d_b)), quiet=True)
    assert not result.passed
    assert "array of shape (4, 3): [" in result.message and ", ...]" in result.message
    assert_short(result.message)


def test_wrap_breaks_lines_between_words_only():
    text = ("Hint: " + "a_very_long_identifier_that_must_not_be_split " * 3 + "and many short words " * 9
            + "\n  an indented second line " + "word " * 30)
    wrapped = wrap(text)
    assert wrapped.split() == text.split()  # the same words, none cut in two
    assert all(len(line) <= WIDTH for line in wrapped.splitlines())
    assert wrap(wrapped) == wrapped
    assert all(line.startswith("  ") for line in wrapped.splitlines()[-3:])  # the indent is kept


# -- the bad-input issue: time limits, scalars and wrong shapes ------------------------------------


def _never_returns(*args):
    while True:
        pass


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_a_function_that_never_returns_is_stopped(name):
    start = time.monotonic()
    result = CHECKERS[name](_never_returns, quiet=True, time_limit=0.3)
    assert time.monotonic() - start < 3.0
    assert not result.passed and result.kind == "timeout"
    assert "took longer than 0.3 s" in flat(result.message) and "loop that never ends" in flat(result.message)


def test_the_default_time_limit_stops_a_loop_within_seconds():
    start = time.monotonic()
    result = check_velocity(_never_returns, quiet=True)
    assert TIME_LIMIT - 0.5 < time.monotonic() - start < TIME_LIMIT + 3.0
    assert f"took longer than {TIME_LIMIT:g} s" in flat(result.message)


def test_the_time_limit_works_off_the_main_thread_and_through_except_exception():
    def stubborn(x_0, x_1, t, schedule):
        while True:
            try:
                pass
            except Exception:  # a student's catch-all must not swallow the time limit
                pass

    results = []
    thread = threading.Thread(target=lambda: results.append(check_interpolate(stubborn, quiet=True, time_limit=0.3)))
    thread.start()
    thread.join(timeout=5.0)
    assert not thread.is_alive() and results[0].kind == "timeout", results
    assert check_interpolate(SOLVED["interpolate"], quiet=True).passed  # no trace or alarm left behind


def _returning(value):
    return lambda *args: value


BAD_RETURNS = ([(name, 0.5, "single number") for name in sorted(CHECKERS) if name not in ("ct_loss", "linear_silu_backward")]
               + [(name, np.zeros((2, 3)), "expected an array of shape") for name in sorted(CHECKERS)
                  if name not in ("ct_loss", "linear_silu_backward")]
               + [("ct_loss", np.zeros(8), "the answer is a single number"),
                  ("linear_silu_backward", 0.5, "should return 3 arrays"),
                  ("linear_silu_backward", (0.5, 0.5, 0.5), "d_x: you returned a single number"),
                  ("linear_silu_backward", (np.zeros(3),) * 3, "d_W: expected an array of shape")])


@pytest.mark.parametrize("name, value, hint", BAD_RETURNS,
                         ids=[f"{n}-{np.shape(v)}" for n, v, _ in BAD_RETURNS])
def test_scalar_or_wrong_shape_gets_a_hint(name, value, hint):
    result = CHECKERS[name](_returning(value), quiet=True)
    assert not result.passed and result.kind in ("hint", "error"), result.message
    assert hint in flat(result.message), result.message
    assert "IndexError" not in result.message
    assert_short(result.message)


def test_checkers_take_a_grading_seed_and_reject_a_bad_one():
    hidden = check_marginal_pdf(SOLVED["marginal_pdf"], quiet=True, seed=2024)
    assert hidden.passed and "agree" in hidden.message
    wrong = check_marginal_pdf(_marginal_without_weights, quiet=True, seed=2024)
    assert "mixture weights are missing" in flat(wrong.message) and "seed 2024" in flat(wrong.message)
    visible = check_marginal_pdf(_marginal_without_weights, quiet=True)
    assert "seed 2024" not in flat(visible.message)
    with pytest.raises(ValueError, match="seed"):
        check_marginal_pdf(SOLVED["marginal_pdf"], quiet=True, seed=-1)
    with pytest.raises(ValueError, match="time_limit"):
        check_marginal_pdf(SOLVED["marginal_pdf"], quiet=True, time_limit=0)


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


# -- the notebooks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SOURCES + RELEASES, ids=[f"{p.parents[1].name}-{p.stem}" for p in SOURCES + RELEASES])
def test_exercise_notebook_is_committed_clean(path):
    """No outputs, so that a student's `git pull` never conflicts with a run notebook."""
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and "$" in nb.cells[0].source  # the idea, with equations
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: clear outputs before committing"


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_source_notebook_has_solutions_checks_and_graded_cells(path):
    nb = nbformat.read(path, as_version=4)
    cells = solution_cells(nb)
    assert cells and all("exercise" in c.metadata.get("tags", []) for c in cells)
    assert all("### BEGIN SOLUTION" in c.source and "### END SOLUTION" in c.source for c in cells)
    names = [n for c in cells for n in defined_functions(c.source)]
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    for n in names:
        assert f"check_{n}({n})" in code  # the visible check a student runs
        [test] = [c for c in graded if c.metadata["nbgrader"]["grade_id"] == f"test_{n}"]
        assert test.metadata["nbgrader"]["points"] > 0 and test.metadata["nbgrader"]["locked"]
        assert f"result = check_{n}({n}, quiet=True)\nassert result.passed, result.message" in test.source
        assert "### BEGIN HIDDEN TESTS" in test.source and "seed=" in test.source


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_source_notebook_executes_and_every_check_passes(path):
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]  # graded cells pass too
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    n_checks = sum(cell.source.startswith("check_") for cell in nb.cells if cell.cell_type == "code")
    assert n_checks >= 1 and text.count(": PASSED") == n_checks, text
    assert "NOT YET" not in text and "Warning" not in text, text
