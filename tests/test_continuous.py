"""Continuous-time consistency (sct, scd): tangents and gradients against finite differences,
the unbiasedness of sct's gradient, and the runs through cmtoy.train."""

import dataclasses

import numpy as np
import pytest

import cmtoy
from cmtoy import mlp
from cmtoy.consistency import ConsistencyModel
from cmtoy.continuous import (AdaptiveWeight, TimeSampler, batch_velocity, continuous_gradient, line_point, tangent,
                              trig_coordinates)
from cmtoy.gradient_bias import gradient_bias
from cmtoy.mlp import MLPConfig
from cmtoy.schedules import Schedule
from cmtoy.training import TrainConfig, train

H = 1e-5
SMALL = MLPConfig(width=16, depth=2, n_fourier=2)


class Quadratic(Schedule):
    """A schedule that is neither linear nor trigonometric: alpha = (1 - t)^2, sigma = t (2 - t)."""

    def alpha(self, t):
        return (1.0 - np.asarray(t, dtype=float)) ** 2

    def sigma(self, t):
        t = np.asarray(t, dtype=float)
        return t * (2.0 - t)


SCHEDULES = [cmtoy.LinearSchedule(), cmtoy.CosineSchedule(), Quadratic()]


def model_and_batch(schedule, n=9, seed=0, config=MLPConfig(n_fourier=4)):
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, schedule)
    rng = np.random.default_rng(seed)
    model = ConsistencyModel.initialise(interp, config, rng)
    model.params.flat[:] += 0.3 * rng.standard_normal(model.params.flat.size)  # no trivially small terms
    t = rng.uniform(0.05, 0.99, n)
    return interp, model, t, interp.target.sample(rng, n), rng.standard_normal(n)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
def test_trig_coordinates_rewrite_the_interpolant_and_their_derivatives_are_right(schedule):
    sigma_d, t = 1.3, np.linspace(0.01, 0.99, 25)
    x_0, x_1 = np.linspace(-2, 2, 25), np.linspace(1.5, -1, 25)
    tau, r, d_tau, d_r = trig_coordinates(schedule, sigma_d, t)
    x_t = schedule.alpha(t) * x_0 + schedule.sigma(t) * x_1
    np.testing.assert_allclose(x_t, r * (np.cos(tau) * x_0 + np.sin(tau) * sigma_d * x_1), atol=1e-13)
    plus, minus = trig_coordinates(schedule, sigma_d, t + H), trig_coordinates(schedule, sigma_d, t - H)
    np.testing.assert_allclose(d_tau, (plus[0] - minus[0]) / (2 * H), rtol=1e-7)
    np.testing.assert_allclose(d_r, (plus[1] - minus[1]) / (2 * H), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("velocity", ["conditional", "exact"])
def test_the_tangent_is_the_derivative_of_the_model_along_the_path(schedule, velocity):
    interp, model, t, x_0, x_1 = model_and_batch(schedule)
    x_t = schedule.alpha(t) * x_0 + schedule.sigma(t) * x_1
    v = schedule.d_alpha(t) * x_0 + schedule.d_sigma(t) * x_1 if velocity == "conditional" else interp.velocity(t, x_t)
    parts = tangent(model, model.params, t, x_t, v)
    numeric = (model(t + H, x_t + H * v) - model(t - H, x_t - H * v)) / (2 * H)  # along dx/dt = v
    assert np.max(np.abs(numeric)) > 0.1  # not a void check
    np.testing.assert_allclose(parts.df_dt(), numeric, rtol=1e-6, atol=1e-7)
    # the model in TrigFlow coordinates: f = cos(tau) y + sigma_d sin(tau) F(t, y / sigma_d)
    tau, r, _, _ = trig_coordinates(schedule, model.sigma_d, t)
    F = mlp.forward(model.params, t, x_t / (r * model.sigma_d))[0]
    np.testing.assert_allclose(parts.F, F, rtol=1e-12)
    np.testing.assert_allclose(model(t, x_t), np.cos(tau) * x_t / r + model.sigma_d * np.sin(tau) * F, atol=1e-12)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
def test_the_batch_velocity_is_the_exact_velocity_of_the_batch_data(schedule):
    # independent computation: the batch's data as a mixture of very narrow components,
    # whose velocity Interpolant.velocity computes in closed form
    rng = np.random.default_rng(1)
    n = 64
    x_0, x_1, t = 1.5 * rng.standard_normal(n), rng.standard_normal(n), rng.uniform(0.02, 1.0, n)
    data = cmtoy.GaussianMixture(means=x_0, stds=np.full(n, 1e-6), weights=np.full(n, 1.0 / n))
    x_t, v = line_point(schedule, t, x_0, x_1, "batch")
    np.testing.assert_allclose(v, cmtoy.Interpolant(data, schedule).velocity(t, x_t), atol=1e-4)
    # in blocks of rows, the same (up to the float32 of the weights)
    v_hat = line_point(schedule, t, x_0, x_1)[1]
    np.testing.assert_allclose(batch_velocity(schedule, t, x_t, x_0, v_hat, rows=5), v, rtol=1e-5, atol=1e-6)


def test_the_batch_velocity_is_the_pair_velocity_where_sigma_is_0():
    schedule = cmtoy.LinearSchedule()
    t, x_0, x_1 = np.array([0.0, 0.0, 0.5]), np.array([1.0, -2.0, 0.3]), np.array([0.5, 0.1, -1.0])
    x_t, v = line_point(schedule, t, x_0, x_1, "batch")
    v_hat = line_point(schedule, t, x_0, x_1)[1]
    assert np.all(np.isfinite(v))
    np.testing.assert_array_equal(v[:2], v_hat[:2])


def test_the_batch_velocity_is_an_unbiased_estimate_of_the_exact_velocity():
    """Its mean over batches, given x_t, is v(t, x_t) even for a batch of 4: the pair's own
    x_0 is drawn from p(x_0 | x_t), the other three from p_0. Without its own x_0 it is far off."""
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)
    schedule, rng = interp.schedule, np.random.default_rng(2)
    t, x, batch, trials = 0.6, 0.4, 4, 20_000
    own = interp.sample_posterior_x0(rng, trials, t, x)  # p(x_0 | x_t = x), in closed form
    others = interp.target.sample(rng, trials * (batch - 1)).reshape(trials, batch - 1)
    times, point = np.full(batch, t), np.full(batch, x)
    v = np.array([batch_velocity(schedule, times, point, np.concatenate([[o], rest]), np.zeros(batch))[0]
                  for o, rest in zip(own, others)])
    v_left_out = np.array([batch_velocity(schedule, times[1:], point[1:], rest, np.zeros(batch - 1))[0]
                           for rest in others])
    exact = float(interp.velocity(np.array([t]), np.array([x]))[0])
    standard_error = v.std() / np.sqrt(trials)
    assert abs(v.mean() - exact) < 4 * standard_error, (v.mean(), exact, standard_error)
    assert abs(v_left_out.mean() - exact) > 20 * standard_error


def test_the_adaptive_weight_gradients_match_finite_differences():
    weight, rng = AdaptiveWeight(), np.random.default_rng(3)
    t, D = rng.uniform(0, 1, 11), rng.uniform(0.1, 2.0, 11)
    phi, features = 0.3 * rng.standard_normal(weight.phi.size), weight.features(t)
    loss, d_D, d_phi = weight.loss(phi, features, D)
    eye = np.eye(phi.size)
    numeric_phi = [(weight.loss(phi + H * e, features, D)[0] - weight.loss(phi - H * e, features, D)[0]) / (2 * H)
                   for e in eye]
    np.testing.assert_allclose(d_phi, numeric_phi, rtol=1e-6, atol=1e-10)
    numeric_D = [(weight.loss(phi, features, D + H * e)[0] - weight.loss(phi, features, D - H * e)[0]) / (2 * H)
                 for e in np.eye(D.size)]
    np.testing.assert_allclose(d_D, numeric_D, rtol=1e-6)
    # its minimiser in w is -log D: with D constant in t, w_phi = -log D is reachable (phi_0)
    flat = np.full(11, 0.5)
    assert np.allclose(weight.loss(np.r_[-np.log(0.5), np.zeros(phi.size - 1)], features, flat)[2], 0.0)


@pytest.mark.parametrize("parametrisation", ["trigflow", "angle", "time"])
@pytest.mark.parametrize("tangent_norm", [0.0, 0.1])
def test_the_loss_gradient_matches_finite_differences_of_the_online_weights(parametrisation, tangent_norm):
    interp, model, t, x_0, x_1 = model_and_batch(cmtoy.LinearSchedule(), config=SMALL)
    target = model.params.copy()
    target.flat[:] += 0.05 * np.random.default_rng(5).standard_normal(target.flat.size)  # theta- != theta
    d_D = np.random.default_rng(6).uniform(0.5, 1.5, t.size)
    kwargs = dict(velocity="conditional", parametrisation=parametrisation, tangent_norm=tangent_norm,
                  warmup_ratio=0.4)

    def loss(params):
        return float(np.sum(d_D * continuous_gradient(model, params, target, interp, t, x_0, x_1, **kwargs)[0]))

    grads = continuous_gradient(model, model.params, target, interp, t, x_0, x_1, **kwargs)[1](d_D)
    numeric = np.empty(model.params.flat.size)
    for i in range(numeric.size):
        plus, minus = model.params.copy(), model.params.copy()
        plus.flat[i] += 1e-6
        minus.flat[i] -= 1e-6
        numeric[i] = (loss(plus) - loss(minus)) / 2e-6
    assert np.linalg.norm(numeric) > 1e-3
    np.testing.assert_allclose(grads.flat, numeric, rtol=1e-5, atol=1e-8)


def test_at_the_stop_gradient_point_the_trigflow_gradient_is_the_tangent_times_grad_F():
    # theta- = theta: (F - F- + g)^2 has gradient 2 g dF/dtheta with g = cos(tau) df-/dtau
    interp, model, t, x_0, x_1 = model_and_batch(cmtoy.CosineSchedule(), config=SMALL)
    schedule = model.schedule
    x_t = schedule.alpha(t) * x_0 + schedule.sigma(t) * x_1
    v = schedule.d_alpha(t) * x_0 + schedule.d_sigma(t) * x_1
    parts = tangent(model, model.params, t, x_t, v)
    g = np.cos(parts.tau) * parts.df_dt() / parts.d_tau
    _, r, _, _ = trig_coordinates(schedule, model.sigma_d, t)
    _, cache = mlp.forward(model.params, t, x_t / (r * model.sigma_d))
    expected = mlp.backward(model.params, cache, 2.0 * g)
    D, backward = continuous_gradient(model, model.params, model.params, interp, t, x_0, x_1, velocity="conditional")
    np.testing.assert_allclose(D, g * g, rtol=1e-12)
    np.testing.assert_allclose(backward(np.ones(t.size)).flat, expected.flat, rtol=1e-10, atol=1e-14)
    # the target as the same object shares the JVP's primal pass; an equal copy takes the
    # separate forward pass: the same loss and gradient
    D_copy, backward_copy = continuous_gradient(model, model.params, model.params.copy(), interp, t, x_0, x_1,
                                                velocity="conditional")
    np.testing.assert_allclose(D_copy, D, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(backward_copy(np.ones(t.size)).flat, expected.flat, rtol=1e-10, atol=1e-14)


def test_the_sct_gradient_is_unbiased_and_the_discrete_ct_gradient_is_not():
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)
    model = ConsistencyModel.initialise(interp, SMALL, np.random.default_rng(0))
    result = gradient_bias(model, interp, batches=(16, 128, 1024), repeats=8, dts=(0.005, 0.015, 0.045),
                           n_bias=1 << 13, t_min=0.05)
    # sct: the batch-mean error falls like 1 / sqrt(B), to zero
    assert -0.65 < result.sct_slope < -0.35
    assert result.sct_error[-1] < result.sct_error[0] / 5
    # with the batch's velocity: less error at every batch, and it falls too
    assert np.all(result.batch_error < result.sct_error)
    assert result.batch_error[-1] < result.batch_error[0] / 3
    # ct per unit dt: an O(dt) bias that a larger batch does not remove
    assert 0.8 < result.ct_slope < 1.2
    assert np.all(np.abs(result.ct_bias_half / result.ct_bias - 1.0) < 0.2)
    assert result.ct_bias[-1] > 1.5 * result.sct_error[-1]  # sct at B = 1024 beats ct with any batch


def test_gradient_bias_refuses_bad_input_by_name():
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)
    model = ConsistencyModel.initialise(interp, SMALL, np.random.default_rng(0))
    with pytest.raises(ValueError, match="dts"):
        gradient_bias(model, interp, dts=(0.1,), t_min=0.05)
    with pytest.raises(ValueError, match="batches"):
        gradient_bias(model, interp, batches=(0, 4))
    with pytest.raises(TypeError, match="ConsistencyModel"):
        gradient_bias(cmtoy.ExactModel(interp), interp)


def test_the_lognormal_time_sampler_follows_its_law_in_log_sigma_over_alpha():
    config = TrainConfig(method="sct").resolved()
    times = TimeSampler(config, cmtoy.LinearSchedule())(np.random.default_rng(0).random(200_000))
    assert np.all((times > 0) & (times < 1))
    log_ratio = np.log(times / (1.0 - times))  # linear schedule: sigma / alpha = t / (1 - t)
    assert abs(np.mean(log_ratio) - config.p_mean) < 0.01 and abs(np.std(log_ratio) - config.p_std) < 0.01
    uniform = TimeSampler(dataclasses.replace(config, time_distribution="uniform"), cmtoy.LinearSchedule())
    assert np.all(uniform(np.array([0.0, 0.5])) == [1.0, 0.5])


@pytest.mark.parametrize("method", ["sct", "scd"])
def test_continuous_methods_train_deterministically_through_the_one_loop(method):
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)
    config = TrainConfig(method=method, steps=200, warmup=20, tangent_warmup=50, mlp=SMALL, eval_samples=2000,
                         eval_every=100, progress=False)
    first, history = train(interp, config)
    second, _ = train(interp, config)
    assert np.array_equal(first.params.flat, second.params.flat)
    assert history["loss"].shape == (200,) and [e["step"] for e in history["evals"]] == [100, 200]
    assert isinstance(first, ConsistencyModel) and np.all(np.isfinite(cmtoy.sample(first, np.random.default_rng(0), 50)))
    # switched off one at a time, each stabiliser changes the run (it is used)
    base = config.resolved()
    for change in (dict(tangent_norm=0.0 if base.tangent_norm else 0.1), dict(tangent_warmup=0),
                   dict(adaptive_weight=not base.adaptive_weight),
                   dict(parametrisation="time" if base.parametrisation == "trigflow" else "trigflow"),
                   dict(time_distribution="uniform" if base.time_distribution == "lognormal" else "lognormal"),
                   dict(sampling="qmc" if base.sampling == "iid" else "iid")):
        other, _ = train(interp, dataclasses.replace(config, eval_every=0, **change))
        assert not np.array_equal(other.params.flat, first.params.flat), change


def test_a_continuous_run_that_blows_up_raises_naming_the_method():
    with pytest.raises(FloatingPointError, match="the sct run diverged"):
        train(cmtoy.Interpolant(cmtoy.SEED_MIXTURE), TrainConfig(method="sct", steps=300, lr=1e30, mlp=SMALL,
                                                                progress=False))


@pytest.mark.parametrize("bad, match", [(dict(tangent_norm=-1.0), "tangent_norm"),
                                        (dict(parametrisation="edm"), "parametrisation"),
                                        (dict(velocity_estimate="exact"), "velocity_estimate must be one of"),
                                        (dict(adaptive_weight=1), "adaptive_weight"),
                                        (dict(tangent_warmup=2.5), "tangent_warmup")])
def test_bad_stabiliser_settings_are_refused_by_name(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        TrainConfig(method="sct", **bad)


def test_discrete_methods_refuse_the_continuous_settings():
    with pytest.raises(ValueError, match="method 'ct' does not use tangent_norm"):
        TrainConfig(method="ct", tangent_norm=0.1)
    with pytest.raises(ValueError, match="method 'sct' does not use n_max"):
        TrainConfig(method="sct", n_max=100)
    with pytest.raises(ValueError, match="method 'scd' does not use velocity_estimate"):
        TrainConfig(method="scd", velocity_estimate="batch")  # its velocity is the exact one


@pytest.mark.parametrize("bad, message", [(dict(velocity="exakt"), "velocity must be one of"),
                                          (dict(parametrisation="trig"), "parametrisation must be one of"),
                                          (dict(tangent_norm=-0.1), "tangent_norm"),
                                          (dict(warmup_ratio=1.5), "warmup_ratio")])
def test_the_loss_refuses_a_setting_it_does_not_know(bad, message):
    # a misspelt parametrisation must not fall through to another branch silently
    interp, model, t, x_0, x_1 = model_and_batch(cmtoy.LinearSchedule(), config=SMALL)
    settings = {"velocity": "conditional", **bad}
    with pytest.raises(ValueError, match=message):
        continuous_gradient(model, model.params, model.params, interp, t, x_0, x_1, **settings)
