"""The parametrization f_theta, its boundary condition, the losses and their gradients."""

import numpy as np
import pytest

import cmtoy
from cmtoy.consistency import ConsistencyModel, consistency_loss, distance, load_model, loss_weight, scalings
from cmtoy.interpolant import Interpolant
from cmtoy.mlp import MLPConfig
from cmtoy.pairs import distillation_pairs, isolation_pairs
from cmtoy.training import TrainConfig

SMALL = MLPConfig(width=8, depth=2, n_fourier=2)


class NearlyLinear(cmtoy.Schedule):
    """A custom schedule whose alpha_0 is 1 only up to rounding."""

    def alpha(self, t):
        return (1.0 - 1e-13) * (1.0 - np.asarray(t, dtype=float))

    def sigma(self, t):
        return np.asarray(t, dtype=float) * 1.0


def make_model(schedule="linear", config=SMALL, seed=0):
    return ConsistencyModel.initialise(Interpolant(cmtoy.SEED_MIXTURE, schedule), config, np.random.default_rng(seed))


@pytest.mark.parametrize("schedule", ["linear", "cosine", NearlyLinear()])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_f_at_time_zero_is_the_identity_exactly(schedule, seed):
    model = make_model(schedule, MLPConfig(), seed)
    model.params.flat[:] *= 5.0  # large weights: F is far from zero
    x = np.random.default_rng(seed).normal(0.0, 3.0, 1000)
    assert np.array_equal(model(0.0, x), x)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_time_terms_computed_once_per_grid_give_the_same_forward_bit_for_bit(dtype):
    # the training loop precomputes c_skip, c_out, c_in and the time features on its grid
    model = make_model("cosine", MLPConfig(dtype=dtype))
    grid = np.linspace(0.0, 1.0, 41)
    terms = model.time_terms(model.params, grid)
    i = np.random.default_rng(0).integers(0, grid.size, 300)
    x = np.random.default_rng(1).normal(0.0, 2.0, i.size)
    direct, _ = model.forward(model.params, grid[i], x)
    cached, _ = model.forward(model.params, grid[i], x, tuple(a[i] for a in terms))
    assert np.array_equal(direct, cached)


def test_scalings_follow_the_formula_away_from_zero():
    schedule, sigma_d, t = cmtoy.CosineSchedule(), 1.3, np.array([0.1, 0.5, 1.0])
    a, s = schedule.alpha(t), schedule.sigma(t)
    var_t = a**2 * sigma_d**2 + s**2
    c_skip, c_out, c_in = scalings(schedule, sigma_d, t)
    np.testing.assert_allclose(c_skip, a * sigma_d**2 / var_t)
    np.testing.assert_allclose(c_out, s * sigma_d / np.sqrt(var_t))
    np.testing.assert_allclose(c_in, 1 / np.sqrt(var_t))


@pytest.mark.parametrize("kind", ["squared", "pseudo_huber"])
def test_distance_derivative_matches_finite_differences(kind):
    diff, h = np.linspace(-0.05, 0.05, 11), 1e-7
    d, d_diff = distance(diff, kind, huber_c=0.01)
    fd = (distance(diff + h, kind, 0.01)[0] - distance(diff - h, kind, 0.01)[0]) / (2 * h)
    np.testing.assert_allclose(d_diff, fd, atol=1e-7)
    assert np.all(d >= 0) and d[5] == 0


def test_unknown_distance_is_rejected():
    with pytest.raises(ValueError, match="'l1'"):
        distance(np.zeros(2), "l1")


def test_loss_weights_are_one_or_the_inverse_step():
    t_early, t_late = np.array([0.0, 0.5, 0.9]), np.array([0.25, 0.75, 1.0])
    np.testing.assert_array_equal(loss_weight("uniform", t_early, t_late), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(loss_weight("inverse_dt", t_early, t_late), [4.0, 4.0, 10.0], rtol=1e-12)
    with pytest.raises(ValueError, match="'dt'.*inverse_dt"):
        loss_weight("dt", t_early, t_late)


@pytest.mark.parametrize("kind", ["squared", "pseudo_huber"])
@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_loss_gradient_matches_finite_differences(kind, schedule):
    rng = np.random.default_rng(4)
    model = make_model(schedule)
    params = model.params
    target = params.copy()  # a fixed target network (EMA or a frozen copy)
    target.flat[:] += 0.05 * rng.standard_normal(target.flat.size)
    n = 9
    t_early = rng.uniform(0.0, 0.9, n)
    t_early[0] = 0.0  # the boundary, where the target is x itself
    t_late = t_early + 0.1
    x_early, x_late, weight = rng.normal(size=n), rng.normal(size=n), rng.uniform(0.5, 2.0, n)
    args = (t_early, x_early, t_late, x_late, weight, kind, 0.05)
    loss, grads = consistency_loss(model, params, target, *args)
    h, fd = 1e-6, np.empty(params.flat.size)
    for i in range(params.flat.size):
        plus, minus = params.copy(), params.copy()
        plus.flat[i] += h
        minus.flat[i] -= h
        fd[i] = (consistency_loss(model, plus, target, *args)[0] - consistency_loss(model, minus, target, *args)[0]) / (2 * h)
    np.testing.assert_allclose(grads.flat, fd, atol=1e-8 * max(1.0, np.abs(fd).max()))
    assert loss > 0


# overlapping modes: f* is smooth, so the rates in dt show without rare jumps across a gap
SMOOTH = cmtoy.GaussianMixture(means=[-1.0, 1.0], stds=[0.6, 0.5], weights=[0.7, 0.3])


def pair_loss(method, dt, solver="euler", schedule="linear", n=4000, target=SMOOTH):
    """The consistency loss of the exact f* on pairs (t, t + dt) drawn as in training."""
    interp = Interpolant(target, schedule)
    config = TrainConfig(method=method, solver=solver, progress=False).resolved()
    rng = np.random.default_rng(5)
    t_early = rng.uniform(0.0, 1.0 - dt, n)
    t_late = t_early + dt
    x_0, x_1 = interp.target.sample(rng, n), rng.standard_normal(n)
    pairs = {"ct": isolation_pairs, "cd": distillation_pairs}[method]
    x_early, x_late = pairs(interp, config, t_early, t_late, x_0, x_1)
    return consistency_loss(cmtoy.ExactModel(interp), None, None, t_early, x_early, t_late, x_late, np.ones(n))[0]


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_ct_loss_of_the_exact_consistency_function_vanishes_like_dt_squared(schedule):
    """Per pair f*(t, x_t) - f*(t + dt, x_{t+dt}) = O(dt): the loss is O(dt^2), ~0 as dt -> 0."""
    big, small = pair_loss("ct", 1e-2, schedule=schedule), pair_loss("ct", 1e-3, schedule=schedule)
    assert small < 1e-5
    assert 50 < big / small < 200  # ratio 100 for dt^2


@pytest.mark.parametrize(("solver", "order"), [("euler", 2), ("heun", 3)])
def test_cd_loss_of_the_exact_consistency_function_is_the_teacher_error_squared(solver, order):
    """One exact-velocity Euler (Heun) step errs by O(dt^2) (O(dt^3)): loss O(dt^4) (O(dt^6))."""
    big, small = pair_loss("cd", 4e-2, solver), pair_loss("cd", 1e-2, solver)
    assert small < 1e-7
    assert 0.5 * 4 ** (2 * order) < big / small < 2 * 4 ** (2 * order)


def test_save_and_load_reproduce_the_model_bit_for_bit(tmp_path):
    model = make_model("cosine", MLPConfig(width=16, depth=2, n_fourier=4), seed=3)
    path = tmp_path / "model.npz"
    model.save(path, extra={"note": "test"})
    loaded = load_model(path)
    t, x = np.linspace(0, 1, 50), np.linspace(-3, 3, 50)
    assert np.array_equal(loaded(t, x), model(t, x))
    assert loaded.schedule == model.schedule and loaded.sigma_d == model.sigma_d
    assert loaded.params.config == model.params.config


def test_custom_schedules_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="schedule"):
        make_model(NearlyLinear()).save(tmp_path / "m.npz")


def test_bad_sigma_d_is_rejected():
    with pytest.raises(ValueError, match="sigma_d"):
        ConsistencyModel("linear", -1.0, make_model().params)
