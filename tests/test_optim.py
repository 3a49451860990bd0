"""Adam, EMA and the learning-rate schedule against their textbook equations, by hand."""

import math

import numpy as np
import pytest

from cmtoy.optim import AdamConfig, AdamState, LRSchedule, adam_step, ema_update


def test_adam_two_steps_by_hand():
    # Kingma & Ba 2015, Algorithm 1 with lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8.
    theta = np.array([1.0, -2.0])
    state = AdamState.zeros(2)

    adam_step(theta, np.array([0.5, -1.0]), state, lr=0.1)
    # m_1 = 0.1 g = (0.05, -0.1); v_1 = 0.001 g^2 = (0.00025, 0.001)
    # m_hat = g, v_hat = g^2: the first step is lr g / (|g| + eps), i.e. ~ lr sign(g)
    np.testing.assert_allclose(state.m, [0.05, -0.1], rtol=1e-15)
    np.testing.assert_allclose(state.v, [0.00025, 0.001], rtol=1e-15)
    theta_1 = np.array([1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 1.0 / (1.0 + 1e-8)])
    np.testing.assert_allclose(theta, theta_1, rtol=1e-15)
    assert state.step == 1

    adam_step(theta, np.array([0.1, 0.2]), state, lr=0.1)
    # m_2 = 0.9 m_1 + 0.1 g = (0.055, -0.07); v_2 = 0.999 v_1 + 0.001 g^2 = (0.00025975, 0.001039)
    # bias corrections: 1 - 0.9^2 = 0.19, 1 - 0.999^2 = 0.001999
    np.testing.assert_allclose(state.m, [0.055, -0.07], rtol=1e-14)
    np.testing.assert_allclose(state.v, [0.00025975, 0.001039], rtol=1e-14)
    step_2 = np.array([
        0.1 * (0.055 / 0.19) / (math.sqrt(0.00025975 / 0.001999) + 1e-8),
        0.1 * (-0.07 / 0.19) / (math.sqrt(0.001039 / 0.001999) + 1e-8),
    ])  # = (0.0803041..., -0.0511026...)
    np.testing.assert_allclose(theta, theta_1 - step_2, rtol=1e-14)
    assert state.step == 2


def test_adam_matches_algorithm_1_over_many_steps():
    rng = np.random.default_rng(0)
    config = AdamConfig(beta1=0.8, beta2=0.99, eps=1e-6)
    theta = rng.standard_normal(50)
    reference, m, v = theta.copy(), np.zeros(50), np.zeros(50)
    state = AdamState.zeros(50)
    for n in range(1, 31):
        g = rng.standard_normal(50) * 10.0 ** rng.uniform(-4, 1)
        lr = 0.01 * n
        adam_step(theta, g, state, lr, config)
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g**2
        reference = reference - lr * (m / (1 - 0.8**n)) / (np.sqrt(v / (1 - 0.99**n)) + 1e-6)
    np.testing.assert_allclose(theta, reference, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(state.m, m, rtol=1e-13)


def test_adam_zero_gradient_is_a_zero_step_and_bad_input_raises():
    theta = np.array([3.0, 4.0])
    adam_step(theta, np.zeros(2), AdamState.zeros(2), lr=1.0)
    np.testing.assert_array_equal(theta, [3.0, 4.0])
    with pytest.raises(ValueError, match="same shape"):
        adam_step(theta, np.zeros(3), AdamState.zeros(2), lr=1.0)
    with pytest.raises(ValueError, match="lr must be"):
        adam_step(theta, np.zeros(2), AdamState.zeros(2), lr=float("nan"))
    with pytest.raises(ValueError, match=r"same dtype.*dtype=theta.dtype"):
        adam_step(theta, np.zeros(2, np.float32), AdamState.zeros(2), lr=1.0)
    with pytest.raises(ValueError, match="beta1"):
        AdamConfig(beta1=1.0)
    with pytest.raises(ValueError, match="eps"):
        AdamConfig(eps=0.0)


def test_ema_by_hand():
    target = np.array([1.0, 2.0])
    online = np.array([3.0, -2.0])
    ema_update(target, online, 0.9)  # 0.9 (1, 2) + 0.1 (3, -2) = (1.2, 1.6)
    np.testing.assert_allclose(target, [1.2, 1.6], rtol=1e-15)
    ema_update(target, online, 0.9)  # 0.9 (1.2, 1.6) + 0.1 (3, -2) = (1.38, 1.24)
    np.testing.assert_allclose(target, [1.38, 1.24], rtol=1e-15)
    np.testing.assert_array_equal(online, [3.0, -2.0])
    ema_update(target, online, 1.0)
    np.testing.assert_allclose(target, [1.38, 1.24], rtol=1e-15)
    ema_update(target, online, 0.0)
    np.testing.assert_array_equal(target, online)
    with pytest.raises(ValueError, match="decay"):
        ema_update(target, online, 1.5)


def test_lr_schedule_warmup_constant_and_cosine():
    warm = LRSchedule(base_lr=1e-3, warmup_steps=4)
    np.testing.assert_allclose(warm(np.arange(7)), [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3, 1e-3])
    assert isinstance(warm(2), float)

    cos = LRSchedule(base_lr=1e-3, warmup_steps=4, decay="cosine", total_steps=10, final_lr=1e-4)
    # after the warm-up p = (n - 4) / 6: p = 0 -> base, p = 1/2 -> midpoint, p >= 1 -> final
    np.testing.assert_allclose(cos([0, 3, 4, 7, 10, 50]), [2.5e-4, 1e-3, 1e-3, 5.5e-4, 1e-4, 1e-4])
    np.testing.assert_allclose(cos(5), 1e-4 + 9e-4 * 0.5 * (1 + math.cos(math.pi / 6)))
    assert LRSchedule(base_lr=0.5)(10**6) == 0.5


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"base_lr": -1.0}, ValueError, "base_lr"),
        ({"base_lr": float("nan")}, ValueError, "base_lr"),
        ({"final_lr": float("inf")}, ValueError, "final_lr"),
        ({"base_lr": "1e-3"}, TypeError, "base_lr"),
        ({"base_lr": True}, TypeError, "base_lr"),
        ({"warmup_steps": -1}, ValueError, "warmup_steps"),
        ({"warmup_steps": 1.5}, TypeError, "warmup_steps"),
        ({"warmup_steps": True}, TypeError, "warmup_steps"),
        ({"decay": "linear"}, ValueError, "decay"),
        ({"decay": "cosine"}, ValueError, "total_steps"),
        ({"decay": "cosine", "warmup_steps": 10, "total_steps": 10}, ValueError, "total_steps"),
        ({"decay": "cosine", "total_steps": "10"}, TypeError, "total_steps"),
    ],
)
def test_lr_schedule_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        LRSchedule(**kwargs)


@pytest.mark.parametrize(
    "kwargs, error",
    [({"beta1": 1.0}, ValueError), ({"beta1": -0.1}, ValueError), ({"beta2": float("nan")}, ValueError),
     ({"eps": 0.0}, ValueError), ({"eps": float("inf")}, ValueError), ({"beta1": "0.9"}, TypeError),
     ({"beta2": False}, TypeError)],
)
def test_adam_config_rejects_bad_constants_by_name(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        AdamConfig(**kwargs)


def test_configs_take_numpy_scalars_as_the_numbers_they_hold():
    adam = AdamConfig(beta1=np.float32(0.5), beta2=np.float64(0.9), eps=np.float32(1e-6))
    assert adam == AdamConfig(beta1=0.5, beta2=0.9, eps=float(np.float32(1e-6)))
    assert type(adam.beta1) is float
    schedule = LRSchedule(base_lr=np.float64(0.1), warmup_steps=np.int64(2), decay="cosine",
                          total_steps=np.int32(10))
    assert schedule == LRSchedule(base_lr=0.1, warmup_steps=2, decay="cosine", total_steps=10)
    assert type(schedule.warmup_steps) is int and type(schedule.total_steps) is int
    np.testing.assert_array_equal(schedule(np.arange(12)),
                                  LRSchedule(0.1, 2, "cosine", total_steps=10)(np.arange(12)))


def test_lr_schedule_rejects_negative_steps():
    with pytest.raises(ValueError, match="steps must be >= 0"):
        LRSchedule()(-1)


def fit_toy_regression(seed, steps=300):
    """Adam + EMA on the MLP, fitting F(t, x) = x cos(pi t) on fixed points; returns losses."""
    from cmtoy.mlp import MLPConfig, Params, backward, forward, init_params

    rng = np.random.default_rng(seed)
    config = MLPConfig(width=16, depth=2, n_fourier=2)
    online = init_params(config, rng)
    target = online.copy()
    grads, state = Params(config), AdamState.zeros(config.n_params)
    lr = LRSchedule(base_lr=1e-2, warmup_steps=20, decay="cosine", total_steps=steps)
    t, x = rng.uniform(0, 1, 128), rng.standard_normal(128)
    y = x * np.cos(np.pi * t)
    losses = []
    for n in range(steps):
        out, cache = forward(online, t, x)
        losses.append(np.mean((out - y) ** 2))
        backward(online, cache, 2.0 * (out - y) / out.size, out=grads)
        adam_step(online.flat, grads.flat, state, lr(n))
        ema_update(target.flat, online.flat, 0.9)
    return np.array(losses), online, target


def test_adam_trains_the_mlp_and_the_run_is_reproducible():
    losses, online, target = fit_toy_regression(seed=0)
    assert losses[-1] < 0.005 * losses[0]
    again, online_again, target_again = fit_toy_regression(seed=0)
    np.testing.assert_array_equal(losses, again)
    np.testing.assert_array_equal(online.flat, online_again.flat)
    np.testing.assert_array_equal(target.flat, target_again.flat)


def test_float32_adam_follows_float64_adam():
    rng = np.random.default_rng(12)
    theta64 = rng.standard_normal(50)
    theta32 = theta64.astype(np.float32)
    state64, state32 = AdamState.zeros(50), AdamState.zeros(50, np.float32)
    for _ in range(20):
        grad = rng.standard_normal(50)
        adam_step(theta64, grad, state64, lr=1e-2)
        adam_step(theta32, grad.astype(np.float32), state32, lr=1e-2)
    assert theta32.dtype == state32.m.dtype == np.float32
    np.testing.assert_allclose(theta32, theta64, rtol=1e-5, atol=1e-6)
