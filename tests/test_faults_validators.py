"""The one set of validators: the same rule in every public function.

numpy integer and float scalars are accepted wherever ints and floats are; strings and
bools are refused with the field's name (TypeError); NaN and inf are refused in every
real field (ValueError); a model called outside its domain raises instead of answering.
"""

import numpy as np
import pytest

import cmtoy
from cmtoy import mlp
from cmtoy.validation import choice, count, finite_array, integer, real, real_array, real_vector, unit_times

INTERP = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)
MODEL = cmtoy.ConsistencyModel("linear", 1.0, mlp.init_params(mlp.MLPConfig(width=8, depth=1), np.random.default_rng(0)))


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_integers_of_every_kind_are_integers(value):
    assert integer("k", value) == 3 and type(integer("k", value)) is int
    assert count("n", value) == 3


@pytest.mark.parametrize("value", [True, np.bool_(False), 3.0, np.float64(3), "3", None, [3]])
def test_what_is_not_an_integer_is_a_type_error_naming_the_field(value):
    with pytest.raises(TypeError, match="^k must be an integer, got"):
        integer("k", value)


def test_integer_bounds_say_what_is_allowed():
    with pytest.raises(ValueError, match="n must be a non-negative integer, got -1"):
        count("n", -1)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        integer("n", 0, low=1)
    with pytest.raises(ValueError, match=r"k must be an integer in \[2, 5\], got 6"):
        integer("k", 6, low=2, high=5)


@pytest.mark.parametrize("value", [0.5, 1, np.float32(0.5), np.float64(0.5), np.int16(1), np.array(0.5)])
def test_reals_of_every_kind_are_reals(value):
    assert real("a", value) == float(value) and type(real("a", value)) is float


@pytest.mark.parametrize("value, kind", [
    (True, TypeError), ("0.5", TypeError), (None, TypeError), (1j, TypeError), ([0.5], TypeError),
    (np.nan, ValueError), (np.inf, ValueError), (-np.inf, ValueError), (np.float32("nan"), ValueError),
])
def test_what_is_not_a_finite_real_is_refused_with_the_field_name(value, kind):
    with pytest.raises(kind, match="^a must be"):
        real("a", value)


def test_real_bounds_open_and_closed():
    assert real("c", 0.0, low=0.0) == 0.0
    with pytest.raises(ValueError, match=r"c must be > 0, got 0.0"):
        real("c", 0.0, low=0.0, low_open=True)
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\), got 1.0"):
        real("t", 1.0, low=0.0, high=1.0, high_open=True)


@pytest.mark.parametrize("check", [real_array, real_vector, finite_array, unit_times])
@pytest.mark.parametrize("value", ["0.5", ["0.1", "0.2"], True, [True, False], [0.1, "0.2", None], b"1"])
def test_arrays_refuse_text_and_bools_that_numpy_would_coerce(check, value):
    with pytest.raises(TypeError, match="^x must be"):
        check("x", value)


def test_arrays_accept_numpy_scalars_lists_and_arrays_without_copying_input():
    data = np.array([0.1, 0.2])
    assert real_array("x", data) is data  # no copy where none is needed
    assert real_vector("x", data) is not data  # a vector is kept: it is a copy
    np.testing.assert_array_equal(real_array("x", [np.float32(0.5), 1, np.int8(2)]), [0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match="x must be finite and at most 1e\\+100 in magnitude, got inf"):
        finite_array("x", [0.0, np.inf])
    with pytest.raises(ValueError, match="got nan"):
        finite_array("x", [np.nan])


def test_choice_lists_what_is_allowed():
    assert choice("kind", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="kind must be one of 'a', 'b'; got 'c'"):
        choice("kind", "c", ("a", "b"))
    with pytest.raises(ValueError, match="got 1"):
        choice("kind", 1, ("a", "b"))


# -- the public functions use them -----------------------------------------------------


@pytest.mark.parametrize("call, kind, words", [
    (lambda: cmtoy.GaussianMixture(["0", "1"], [1, 1]), TypeError, "means must be"),
    (lambda: cmtoy.GaussianMixture([0, 1], [True, True]), TypeError, "stds must be"),
    (lambda: cmtoy.SEED_MIXTURE.pdf("0.5"), TypeError, "x must be"),
    (lambda: cmtoy.SEED_MIXTURE.ppf([True]), TypeError, "u must be"),
    (lambda: cmtoy.SEED_MIXTURE.sample(np.random.default_rng(0), 2.0), TypeError, "n must be an integer"),
    (lambda: cmtoy.SEED_MIXTURE.sample(np.random.default_rng(0), True), TypeError, "n must be an integer"),
    (lambda: INTERP.pdf("0.5", 0.0), TypeError, "t must be"),
    (lambda: INTERP.score(0.5, np.nan), ValueError, "x must be finite"),
    (lambda: INTERP.velocity(0.5, np.inf), ValueError, "x must be finite"),
    (lambda: INTERP.flow_map(0.0, 0.5, np.nan), ValueError, "s contains NaN"),
    (lambda: INTERP.sample(np.random.default_rng(0), -1, 0.5), ValueError, "n must be a non-negative"),
    (lambda: INTERP.interpolate(0.5, np.inf, 0.0), ValueError, "x_0 must be finite"),
    (lambda: cmtoy.sample(MODEL, np.random.default_rng(0), 3, times=("1", "0.5")), TypeError, "times must be"),
    (lambda: cmtoy.sample(MODEL, np.random.default_rng(0), 3, times=(1.0, np.nan)), ValueError, "times"),
    (lambda: cmtoy.sample(object(), np.random.default_rng(0), 3), TypeError, "model must be"),
    (lambda: cmtoy.wasserstein1([0.0, np.inf], cmtoy.SEED_MIXTURE), ValueError, "samples must be finite"),
    (lambda: cmtoy.wasserstein1(["0"], cmtoy.SEED_MIXTURE), TypeError, "samples must be"),
    (lambda: cmtoy.flow_map_error(MODEL, INTERP, n=0), ValueError, "n must be a positive integer, got 0"),
    (lambda: cmtoy.flow_map_error(MODEL, INTERP, n=10.0), TypeError, "n must be an integer"),
    (lambda: cmtoy.induction_error(INTERP, 0.5, []), ValueError, "dts must be a non-empty"),
    (lambda: cmtoy.induction_error(INTERP, 0.5, [np.nan]), ValueError, "dts contains NaN"),
    (lambda: cmtoy.induction_error(INTERP, 0.5, [0.1], n=0), ValueError, "n must be a positive integer"),
    (lambda: cmtoy.induction_error(INTERP, 1.0, [0.1]), ValueError, r"t must be in \[0, 1\)"),
    (lambda: cmtoy.induction_error(INTERP, 0.5, [0.1], n_nodes=0), ValueError, "n_nodes must be"),
    (lambda: cmtoy.ConsistencyModel("linear", np.nan, MODEL.params), ValueError, "sigma_d must be a finite"),
    (lambda: cmtoy.ConsistencyModel("linear", "1", MODEL.params), TypeError, "sigma_d must be a real"),
    (lambda: cmtoy.ConsistencyModel("linear", 1.0, None), TypeError, "params must be"),
    (lambda: cmtoy.ConsistencyModel("sqrt", 1.0, MODEL.params), ValueError, "unknown schedule"),
])
def test_public_functions_name_the_bad_value(call, kind, words):
    with pytest.raises(kind, match=words):
        call()


def test_numpy_scalars_work_wherever_python_numbers_do():
    mix = cmtoy.GaussianMixture(np.array([-1.0, 2.0], np.float32), [np.float64(0.1), np.float32(0.1)],
                                [np.int64(4), 1])
    assert mix.weights.tolist() == pytest.approx([0.8, 0.2])
    x = mix.sample(np.random.default_rng(0), np.int64(5))
    assert x.shape == (5,)
    assert np.isfinite(INTERP.score(np.float32(0.5), np.float16(1.0)))
    assert np.isfinite(cmtoy.flow_map_error(MODEL, INTERP, n=np.int32(50)))
    assert cmtoy.sample(MODEL, np.random.default_rng(0), np.uint16(4), times=(np.float32(1.0),)).shape == (4,)
    assert cmtoy.SEED_MIXTURE.sample(np.random.default_rng(0), 0).shape == (0,)  # 0 samples: empty, as numpy


@pytest.mark.parametrize("model", [MODEL, cmtoy.ExactModel(INTERP)], ids=["learned", "exact"])
@pytest.mark.parametrize("t, x, words", [
    (2.0, 0.5, r"t must lie in \[0, 1\], got 2.0"),
    (-0.1, 0.5, r"t must lie in \[0, 1\]"),
    (np.nan, 0.5, "t contains NaN"),
    (0.5, np.inf, "x must be finite"),
    (0.5, -np.inf, "x must be finite"),
    (0.5, np.nan, "x must be finite"),
    ([0.5, 1.5], [0.0, 0.0], r"t must lie in \[0, 1\], got 1.5"),
])
def test_a_model_called_outside_its_domain_raises(model, t, x, words):
    with pytest.raises(ValueError, match=words):
        model(t, x)


def test_a_model_inside_its_domain_is_unchanged_by_the_checks():
    t, x = np.linspace(0, 1, 7), np.linspace(-3, 3, 7)
    direct = MODEL.forward(MODEL.params, t, x)[0]
    np.testing.assert_array_equal(MODEL(t, x), direct)  # bit for bit
    assert MODEL(0.0, 1.25) == 1.25  # f(0, x) = x


def test_python_integers_beyond_every_float_or_array_are_value_errors_not_overflow():
    huge = 10**400
    with pytest.raises(ValueError, match="n must be an integer <= 9223372036854775807.*got an integer of 401 digits"):
        cmtoy.SEED_MIXTURE.sample(np.random.default_rng(0), huge)
    with pytest.raises(ValueError, match="x must be finite, got a number too large for a float"):
        cmtoy.SEED_MIXTURE.pdf(huge)
    with pytest.raises(ValueError, match="t must be a finite real number, got a number too large"):
        cmtoy.induction_error(INTERP, huge, [0.1])
    with pytest.raises(ValueError, match="means must be finite, got a number too large"):
        cmtoy.GaussianMixture([huge], [1.0])


def test_quantile_from_log_takes_log_probabilities_only():
    mix = cmtoy.SEED_MIXTURE
    with pytest.raises(ValueError, match=r"log_p must be <= 0 \(a log-probability\), got 0.5"):
        mix.quantile_from_log(0.5, False)
    with pytest.raises(ValueError, match="log_p contains NaN"):
        mix.quantile_from_log(np.nan, True)
    # p = 0 and p = 1 are the two ends of the line, in either tail
    np.testing.assert_array_equal(mix.quantile_from_log([-np.inf, 0.0], [False, False]), [-np.inf, np.inf])
    np.testing.assert_array_equal(mix.quantile_from_log([-np.inf, 0.0], [True, True]), [np.inf, -np.inf])
    np.testing.assert_array_equal(mix.quantile_from_log(np.log([0.3, 0.1]), [False, True]), mix.ppf([0.3, 0.9]))


def test_the_exact_model_takes_only_an_interpolant():
    with pytest.raises(TypeError, match="interp must be a cmtoy.Interpolant, got GaussianMixture"):
        cmtoy.ExactModel(cmtoy.SEED_MIXTURE)
