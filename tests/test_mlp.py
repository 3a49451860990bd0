"""The MLP F_theta: hand-written gradients and JVP against central finite differences."""

import warnings

import numpy as np
import pytest

from cmtoy.mlp import MLPConfig, Params, _embed_times, backward, forward, init_params, input_grads, jvp, jvp_backward

H = 1e-6  # finite-difference step; truncation O(H^2) and rounding O(eps / H) are both << 1e-6


def random_params(config, seed=0, scale=0.8):
    """Parameters with every entry (biases too) random, so no gradient is trivially zero."""
    params = init_params(config, np.random.default_rng(seed))
    params.flat[:] = scale * np.random.default_rng(seed + 1).standard_normal(params.flat.size)
    return params


def random_inputs(n=7, seed=2):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, n), rng.standard_normal(n)  # t, x


def numerical_gradient(loss, params):
    """Central differences of loss(params) with respect to every entry of params.flat."""
    grad = np.empty_like(params.flat)
    for i in range(params.flat.size):
        plus, minus = params.copy(), params.copy()
        plus.flat[i] += H
        minus.flat[i] -= H
        grad[i] = (loss(plus) - loss(minus)) / (2 * H)
    return Params(params.config, grad)


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


CONFIGS = [
    MLPConfig(width=5, depth=2, activation="silu", n_fourier=3),
    MLPConfig(width=5, depth=2, activation="tanh", n_fourier=3),
    MLPConfig(width=4, depth=1, activation="silu", n_fourier=0),
    MLPConfig(width=3, depth=3, activation="tanh", n_fourier=1),
]


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_backward_matches_finite_differences_for_every_parameter_array(config):
    params = random_params(config)
    t, x = random_inputs()
    weights = np.random.default_rng(3).standard_normal(t.shape)  # L = sum_i w_i F(t_i, x_i)

    out, cache = forward(params, t, x)
    grads = backward(params, cache, weights)
    expected = numerical_gradient(lambda p: np.dot(weights, forward(p, t, x)[0]), params)

    for (name, g), e in zip(grads.named().items(), expected.named().values()):
        assert np.linalg.norm(e) > 1e-3, f"{name}: finite-difference gradient is ~0, test is void"
        assert relative_error(g, e) < 1e-6, f"{name}: relative error {relative_error(g, e):.2e}"


@pytest.mark.parametrize("activation", ["silu", "tanh"])
def test_gradient_of_a_squared_error_loss_composed_on_top(activation):
    config = MLPConfig(width=6, depth=2, activation=activation, n_fourier=2)
    params = random_params(config, seed=5)
    t, x = random_inputs(n=9, seed=6)
    y = np.random.default_rng(7).standard_normal(t.shape)

    def loss(p):  # L = mean (F(t, x) - y)^2
        return np.mean((forward(p, t, x)[0] - y) ** 2)

    out, cache = forward(params, t, x)
    d_out = 2.0 * (out - y) / out.size  # dL/dF
    grads = backward(params, cache, d_out)
    assert relative_error(grads.flat, numerical_gradient(loss, params).flat) < 1e-6


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_jvp_matches_finite_differences(config):
    params = random_params(config, seed=11)
    t, x = random_inputs(seed=12)
    d_t, d_x = np.random.default_rng(13).standard_normal((2, t.size))

    out, d_out = jvp(params, t, x, d_t, d_x)
    expected = (
        forward(params, t + H * d_t, x + H * d_x)[0] - forward(params, t - H * d_t, x - H * d_x)[0]
    ) / (2 * H)
    assert np.array_equal(out, forward(params, t, x)[0])
    assert relative_error(d_out, expected) < 1e-6


def test_input_grads_are_the_partial_derivatives():
    params = random_params(CONFIGS[0], seed=21)
    t, x = random_inputs(seed=22)
    out, dF_dt, dF_dx = input_grads(params, t, x)
    fd_t = (forward(params, t + H, x)[0] - forward(params, t - H, x)[0]) / (2 * H)
    fd_x = (forward(params, t, x + H)[0] - forward(params, t, x - H)[0]) / (2 * H)
    assert relative_error(dF_dt, fd_t) < 1e-6
    assert relative_error(dF_dx, fd_x) < 1e-6
    # linearity of the JVP in the tangent
    _, d_out = jvp(params, t, x, 0.5, -2.0)
    np.testing.assert_allclose(d_out, 0.5 * dF_dt - 2.0 * dF_dx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_fourier", [0, 1, 2, 3, 7, 16])
def test_time_embedding_is_x_t_and_the_harmonics_of_t(n_fourier):
    t, x = random_inputs(n=50)
    k = np.arange(1, n_fourier + 1)
    expected = np.column_stack([x, t, np.sin(np.pi * np.outer(t, k)), np.cos(np.pi * np.outer(t, k))])
    np.testing.assert_allclose(_embed_times([t], x, n_fourier, np.float64), expected, rtol=0, atol=1e-13)
    single = _embed_times([t], x, n_fourier, np.float32)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, expected, rtol=0, atol=1e-6)  # float32 rounding of inputs


def test_shapes_broadcast_and_round_trip():
    params = random_params(CONFIGS[0])
    x = np.random.default_rng(0).standard_normal((3, 4))
    out, _ = forward(params, 0.3, x)
    assert out.shape == (3, 4)
    np.testing.assert_array_equal(out[1], forward(params, np.full(4, 0.3), x[1])[0])
    out, d_out = jvp(params, 0.3, x, 1.0, 0.0)
    assert out.shape == d_out.shape == (3, 4)


def test_backward_writes_into_out_and_mutates_nothing_else():
    params = random_params(CONFIGS[1])
    t, x = random_inputs()
    d_out = np.random.default_rng(1).standard_normal(t.shape)
    before_params, before_d_out = params.flat.copy(), d_out.copy()
    out, cache = forward(params, t, x)
    fresh = backward(params, cache, d_out)
    buffer = Params(params.config, np.full(params.flat.size, np.nan))
    assert backward(params, cache, d_out, out=buffer) is buffer
    np.testing.assert_array_equal(buffer.flat, fresh.flat)
    np.testing.assert_array_equal(params.flat, before_params)
    np.testing.assert_array_equal(d_out, before_d_out)
    with pytest.raises(ValueError, match="d_out has 6 entries"):
        backward(params, cache, d_out[:-1])


def test_params_views_share_the_flat_buffer():
    config = MLPConfig(width=4, depth=2, n_fourier=1)
    params = Params(config)
    assert params.flat.size == config.n_params == (4 + 1) * 4 + (4 + 1) * 4 + (4 + 1) * 1
    assert [W.shape for W in params.W] == [(4, 4), (4, 4), (4, 1)]
    assert list(params.named()) == ["W_0", "b_0", "W_1", "b_1", "W_2", "b_2"]
    params.flat[:] = np.arange(params.flat.size)
    assert params.W[0][0, 1] == 1 and params.b[0][0] == 16 and params.W[1][0, 0] == 20
    params.b[2][0] = -1.0
    assert params.flat[-1] == -1.0
    copy = params.copy()
    copy.flat[0] = 99.0
    assert params.W[0][0, 0] == 0.0
    with pytest.raises(ValueError, match=r"shape \(45,\)"):
        Params(config, np.zeros(44))
    with pytest.raises(ValueError, match="float64"):
        Params(config, np.zeros(45, dtype=np.float32))


def test_init_is_deterministic_and_scaled():
    config = MLPConfig(width=256, depth=2, n_fourier=8)
    a = init_params(config, np.random.default_rng(42))
    b = init_params(config, np.random.default_rng(42))
    c = init_params(config, np.random.default_rng(43))
    np.testing.assert_array_equal(a.flat, b.flat)
    assert not np.array_equal(a.flat, c.flat)
    t, x = random_inputs(n=16)
    np.testing.assert_array_equal(forward(a, t, x)[0], forward(b, t, x)[0])
    for W, bias in zip(a.W, a.b):  # LeCun normal: variance 1 / fan_in, zero biases
        assert abs(W.var() * W.shape[0] - 1.0) < 0.1
        assert not bias.any()
    with pytest.raises(TypeError, match="Generator"):
        init_params(config, 0)


def test_silu_is_stable_for_large_inputs():
    params = random_params(CONFIGS[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, cache = forward(params, np.array([0.5, 0.5]), np.array([-1e6, 1e6]))
        grads = backward(params, cache, np.ones(2))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grads.flat))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"width": 0}, ValueError, "width"),
        ({"width": 2.5}, TypeError, "width"),
        ({"depth": 0}, ValueError, "depth"),
        ({"depth": True}, TypeError, "depth"),
        ({"n_fourier": -1}, ValueError, "n_fourier"),
        ({"n_fourier": "8"}, TypeError, "n_fourier"),
        ({"activation": "relu"}, ValueError, "activation.*relu"),
        ({"dtype": "float16"}, ValueError, "dtype.*float16"),
    ],
)
def test_bad_config_values_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        MLPConfig(**kwargs)


def test_config_takes_numpy_integers_as_ints():
    config = MLPConfig(width=np.int64(8), depth=np.int32(2), n_fourier=np.uint8(4))
    assert config == MLPConfig(width=8, depth=2, n_fourier=4) and type(config.width) is int


@pytest.mark.parametrize("activation", ["silu", "tanh"])
def test_float32_network_follows_the_float64_one(activation):
    """The same weights in single precision: outputs, gradients and JVPs agree to float32 rounding."""
    config64 = MLPConfig(width=16, depth=3, activation=activation, n_fourier=4)
    config32 = MLPConfig(width=16, depth=3, activation=activation, n_fourier=4, dtype="float32")
    params64 = random_params(config64, seed=8, scale=0.5)
    params32 = Params(config32, params64.flat.astype(np.float32))
    params64.flat[:] = params32.flat  # identical weights, exactly representable in both
    t, x = random_inputs(n=64, seed=9)
    d_out = np.random.default_rng(10).standard_normal(t.shape)

    out64, cache64 = forward(params64, t, x)
    out32, cache32 = forward(params32, t, x)
    assert out32.dtype == np.float32 and cache32[0][1].dtype == np.float32
    assert relative_error(out32, out64) < 1e-5
    grads32 = backward(params32, cache32, d_out)
    assert grads32.flat.dtype == np.float32
    assert relative_error(grads32.flat, backward(params64, cache64, d_out).flat) < 1e-5
    _, dot32 = jvp(params32, t, x, 0.3, 1.0)
    _, dot64 = jvp(params64, t, x, 0.3, 1.0)
    assert relative_error(dot32, dot64) < 1e-4


def test_float32_sigmoid_is_accurate_and_quiet_at_extremes():
    from scipy.special import expit

    from cmtoy.mlp import _sigmoid

    z = np.concatenate([np.linspace(-100, 100, 2001), [-1e30, -1e4, 1e4, 1e30]]).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from e^{-z} = inf
        s = _sigmoid(z.copy())
    exact = expit(z.astype(np.float64))
    assert s.dtype == np.float32
    normal = z > -85  # sigmoid(-85) = 1.2e-37, well above float32 subnormals
    assert np.max(np.abs(s[normal] - exact[normal]) / exact[normal]) < 1e-6
    assert np.all((s[~normal] >= 0) & (s[~normal] < 1.3e-37))


def test_params_reject_a_buffer_of_the_wrong_dtype():
    config = MLPConfig(width=4, depth=1, dtype="float32")
    assert Params(config).flat.dtype == np.float32
    assert init_params(config, np.random.default_rng(0)).flat.dtype == np.float32
    with pytest.raises(ValueError, match="float32 array"):
        Params(config, np.zeros(config.n_params))


# -- two time inputs: F_theta(t, s, x) for flow maps ------------------------------------

TWO_TIME_CONFIGS = [
    MLPConfig(width=5, depth=2, activation="silu", n_fourier=3, n_times=2),
    MLPConfig(width=4, depth=3, activation="tanh", n_fourier=1, n_times=2),
    MLPConfig(width=4, depth=1, activation="silu", n_fourier=0, n_times=2),
]


def random_two_time_inputs(n=7, seed=2):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, 1.0, n)
    return t, t * rng.uniform(0.0, 1.0, n), rng.standard_normal(n)  # t, s <= t, x


@pytest.mark.parametrize("config", TWO_TIME_CONFIGS, ids=str)
def test_two_time_backward_matches_finite_differences(config):
    params = random_params(config, seed=31)
    t, s, x = random_two_time_inputs(seed=32)
    weights = np.random.default_rng(33).standard_normal(t.shape)
    out, cache = forward(params, t, x, s=s)
    grads = backward(params, cache, weights)
    expected = numerical_gradient(lambda p: np.dot(weights, forward(p, t, x, s=s)[0]), params)
    for (name, g), e in zip(grads.named().items(), expected.named().values()):
        assert np.linalg.norm(e) > 1e-3, f"{name}: finite-difference gradient is ~0, test is void"
        assert relative_error(g, e) < 1e-6, f"{name}: relative error {relative_error(g, e):.2e}"


@pytest.mark.parametrize("config", TWO_TIME_CONFIGS, ids=str)
@pytest.mark.parametrize("direction", ["t", "s", "x", "all"])
def test_two_time_jvp_matches_finite_differences_in_every_direction(config, direction):
    params = random_params(config, seed=41)
    t, s, x = random_two_time_inputs(seed=42)
    d = np.random.default_rng(43).standard_normal((3, t.size))
    d_t, d_s, d_x = (d[i] if direction in (name, "all") else np.zeros(t.size) for i, name in enumerate("tsx"))
    out, d_out = jvp(params, t, x, d_t, d_x, s=s, d_s=d_s)
    expected = (forward(params, t + H * d_t, x + H * d_x, s=s + H * d_s)[0]
                - forward(params, t - H * d_t, x - H * d_x, s=s - H * d_s)[0]) / (2 * H)
    assert np.linalg.norm(expected) > 1e-3, "the finite-difference derivative is ~0, test is void"
    assert np.array_equal(out, forward(params, t, x, s=s)[0])
    assert relative_error(d_out, expected) < 1e-6


def test_two_time_inputs_are_x_both_times_and_the_harmonics_of_each():
    t, s, x = random_two_time_inputs(n=50)
    k = np.arange(1, 4)
    harmonics = [f(np.pi * np.outer(time, k)) for time in (t, s) for f in (np.sin, np.cos)]
    expected = np.column_stack([x, t, s, *harmonics])
    np.testing.assert_allclose(_embed_times([t, s], x, 3, np.float64), expected, rtol=0, atol=1e-13)
    np.testing.assert_allclose(_embed_times([t, s], x, 3, np.float32), expected, rtol=0, atol=1e-6)
    config = MLPConfig(width=4, depth=1, n_fourier=3, n_times=2)
    assert config.n_inputs == expected.shape[1] == 15


def test_jvp_can_return_the_cache_of_forward():
    params = random_params(TWO_TIME_CONFIGS[0], seed=51)
    t, s, x = random_two_time_inputs(seed=52)
    out, _, cache = jvp(params, t, x, 1.0, 0.5, s=s, d_s=0.0, return_cache=True)
    ref_out, ref_cache = forward(params, t, x, s=s)
    np.testing.assert_array_equal(out, ref_out)
    d_out = np.random.default_rng(53).standard_normal(t.size)
    np.testing.assert_array_equal(backward(params, cache, d_out).flat, backward(params, ref_cache, d_out).flat)


@pytest.mark.parametrize("config", CONFIGS + TWO_TIME_CONFIGS, ids=str)
def test_jvp_backward_matches_finite_differences_of_a_loss_of_both_outputs(config):
    """d/d theta of sum(a F + b dF): the layers and their tangent lines differentiated together."""
    params = random_params(config, seed=71)
    t, s, x = random_two_time_inputs(seed=72)
    s = s if config.n_times == 2 else None
    rng = np.random.default_rng(73)
    d_t, d_s, d_x, a, b = rng.standard_normal((5, t.size))
    tangent = dict(s=s, d_s=d_s) if s is not None else {}

    def loss(p):
        out, dot = jvp(p, t, x, d_t, d_x, **tangent)
        return np.dot(a, out) + np.dot(b, dot)

    _, _, cache = jvp(params, t, x, d_t, d_x, **tangent, return_cache=True)
    grads = jvp_backward(params, cache, a, b)
    expected = numerical_gradient(loss, params)
    for (name, g), e in zip(grads.named().items(), expected.named().values()):
        assert np.linalg.norm(e) > 1e-3, f"{name}: finite-difference gradient is ~0, test is void"
        assert relative_error(g, e) < 1e-6, f"{name}: relative error {relative_error(g, e):.2e}"
    # with no weight on the tangent it is backward's gradient of F, into a given buffer
    buffer = params.copy()
    assert jvp_backward(params, cache, a, np.zeros(t.size), out=buffer) is buffer
    np.testing.assert_allclose(buffer.flat, backward(params, cache, a).flat, rtol=1e-12, atol=1e-14)


def test_jvp_backward_refuses_a_cache_without_tangents_and_a_wrong_batch():
    params = random_params(TWO_TIME_CONFIGS[0], seed=81)
    t, s, x = random_two_time_inputs(seed=82)
    _, cache = forward(params, t, x, s=s)
    with pytest.raises(ValueError, match="needs the cache of jvp"):
        jvp_backward(params, cache, np.ones(t.size), np.ones(t.size))
    _, _, cache = jvp(params, t, x, 1.0, 0.0, s=s, return_cache=True)
    with pytest.raises(ValueError, match="6 entries, the jvp's batch had 7"):
        jvp_backward(params, cache, np.ones(t.size), np.ones(t.size - 1))


def test_two_time_features_can_be_precomputed():
    from cmtoy.mlp import time_features

    params = random_params(TWO_TIME_CONFIGS[0], seed=61)
    t, s, x = random_two_time_inputs(seed=62)
    features = time_features(params, t, s)
    assert features.shape == (t.size, 2 * 2 * 3)
    np.testing.assert_array_equal(forward(params, t, x, features, s=s)[0], forward(params, t, x, s=s)[0])


def test_a_network_refuses_the_wrong_number_of_times():
    one = random_params(CONFIGS[0])
    two = random_params(TWO_TIME_CONFIGS[0])
    t, s, x = random_two_time_inputs()
    with pytest.raises(ValueError, match="n_times=1 needs exactly one time t; got an s"):
        forward(one, t, x, s=s)
    with pytest.raises(ValueError, match="n_times=2 needs two times t and s; got no s"):
        forward(two, t, x)
    with pytest.raises(ValueError, match="n_times=2"):
        jvp(two, t, x, 1.0, 0.0)
    with pytest.raises(ValueError, match="n_times"):
        MLPConfig(n_times=3)
    with pytest.raises(TypeError, match="n_times"):
        MLPConfig(n_times=1.5)


def test_float32_two_time_network_follows_the_float64_one():
    config64 = MLPConfig(width=16, depth=3, n_fourier=4, n_times=2)
    config32 = MLPConfig(width=16, depth=3, n_fourier=4, n_times=2, dtype="float32")
    params64 = random_params(config64, seed=71, scale=0.5)
    params32 = Params(config32, params64.flat.astype(np.float32))
    params64.flat[:] = params32.flat
    t, s, x = random_two_time_inputs(n=64, seed=72)
    out64, d64 = jvp(params64, t, x, 1.0, 0.7, s=s, d_s=0.2)
    out32, d32 = jvp(params32, t, x, 1.0, 0.7, s=s, d_s=0.2)
    assert out32.dtype == np.float32
    assert relative_error(out32, out64) < 1e-5 and relative_error(d32, d64) < 1e-4


def test_a_one_time_config_is_described_as_before_networks_had_two_times():
    assert "n_times" not in MLPConfig().describe()
    assert MLPConfig(**MLPConfig().describe()) == MLPConfig()
    assert MLPConfig(n_times=2).describe()["n_times"] == 2
