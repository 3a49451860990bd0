"""A property of the whole public API, over random valid and invalid input (hypothesis):

every call either raises one of the documented exception types (TypeError, ValueError,
of which CheckpointError is one) or returns a finite result (where a function documents
infinite values, such as ppf(0) = -inf or log pdf = -inf, only those), and never warns:
warnings are errors inside every example.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cmtoy
from cmtoy import mlp

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODEL = cmtoy.ConsistencyModel("linear", 1.2, mlp.init_params(mlp.MLPConfig(width=8, depth=1), np.random.default_rng(0)))
INTERP = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)
DOCUMENTED = (TypeError, ValueError)

# reals of every size, NaN and inf included; each as a Python float or a numpy scalar
reals = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e3, 1e3),
    st.sampled_from([0.0, 1.0, 0.5, 1e-300, 1e-50, 1e50, 1e100, 1e101, 1e308, -1e308, 5e-324]),
).flatmap(lambda v: st.sampled_from([v, np.float64(v), np.float32(v) if abs(v) < 3e38 or not np.isfinite(v) else v]))
junk = st.sampled_from(["0.5", "abc", b"1", None, True, np.bool_(False), 1j, object(), [], [[1.0], [2.0, 3.0]], {}])
integers = st.one_of(st.integers(-5, 50), st.integers(-5, 50).map(np.int64), st.sampled_from([2.0, True, "3"]))
scalars = st.one_of(reals, st.integers(-3, 3), junk)
vectors = st.one_of(st.lists(reals, min_size=0, max_size=4), st.lists(st.floats(-5, 5), min_size=1, max_size=4), junk)
times = st.one_of(st.floats(0.0, 1.0), reals, junk)
points = st.one_of(scalars, st.lists(st.one_of(st.floats(-10, 10), reals), min_size=1, max_size=5))


def outcome(call, allow_inf=False, allow_neg_inf=False, numbers=True):
    """Run call with warnings as errors; assert a documented error or a finite result.

    returns the result, or None after a documented error. numbers=False: the result is
    an object (checked by the caller), not numbers.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            result = call()
        except DOCUMENTED:
            return None
    if not numbers:
        return result
    values = np.asarray(result, dtype=float)
    ok = np.isfinite(values)
    if allow_inf:
        ok |= np.isinf(values)
    if allow_neg_inf:
        ok |= values == -np.inf
    assert np.all(ok), f"non-finite result {result!r}"
    return result


@SETTINGS
@given(means=vectors, stds=vectors, weights=st.one_of(st.none(), vectors), x=points)
def test_mixtures_refuse_or_answer_finitely(means, stds, weights, x):
    mix = outcome(lambda: cmtoy.GaussianMixture(means, stds, weights), numbers=False)
    if mix is None:
        return
    assert np.all(np.isfinite(mix.weights)) and mix.weights.sum() == pytest.approx(1.0)
    assert np.isfinite(mix.mean) and np.isfinite(mix.var)
    outcome(lambda: mix.pdf(x))
    outcome(lambda: mix.cdf(x))
    outcome(lambda: mix.logpdf(x), allow_neg_inf=True)
    outcome(lambda: mix.sample(np.random.default_rng(0), 3))
    for schedule in ("linear", "cosine"):
        interp = cmtoy.Interpolant(mix, schedule)
        for t in (0.0, 0.5, 1.0):
            outcome(lambda: interp.pdf(t, x))
            outcome(lambda: interp.score(t, x))
            outcome(lambda: interp.velocity(t, x))
            outcome(lambda: interp.flow_map(x, t, 0.0))


@SETTINGS
@given(t=times, x=points, s=times)
def test_the_interpolant_refuses_or_answers_finitely(t, x, s):
    outcome(lambda: INTERP.pdf(t, x))
    outcome(lambda: INTERP.cdf(t, x))
    outcome(lambda: INTERP.score(t, x))
    outcome(lambda: INTERP.posterior_mean(t, x))
    outcome(lambda: INTERP.noise_mean(t, x))
    outcome(lambda: INTERP.velocity(t, x))
    outcome(lambda: INTERP.flow_map(x, t, s))
    outcome(lambda: INTERP.interpolate(t, x, x))
    outcome(lambda: INTERP.sample(np.random.default_rng(0), 4, t))
    outcome(lambda: INTERP.ppf(t, x), allow_inf=True)  # ppf(t, 0) = -inf, ppf(t, 1) = +inf
    outcome(lambda: cmtoy.SEED_MIXTURE.ppf(x), allow_inf=True)


@SETTINGS
@given(t=times, x=points)
def test_models_refuse_or_answer_finitely(t, x):
    outcome(lambda: MODEL(t, x))
    outcome(lambda: cmtoy.ExactModel(INTERP)(t, x))


@SETTINGS
@given(n=integers, times_=st.one_of(st.lists(times, min_size=0, max_size=3), junk), samples=points,
       sigma_d=scalars, dts=st.one_of(vectors, st.lists(st.floats(0.0, 0.6), min_size=1, max_size=3)))
def test_sampling_and_metrics_refuse_or_answer_finitely(n, times_, samples, sigma_d, dts):
    outcome(lambda: cmtoy.sample(MODEL, np.random.default_rng(0), n, times=times_))
    outcome(lambda: cmtoy.wasserstein1(samples, cmtoy.SEED_MIXTURE))
    outcome(lambda: cmtoy.flow_map_error(MODEL, INTERP, n=n))
    outcome(lambda: cmtoy.ConsistencyModel("linear", sigma_d, MODEL.params).sigma_d)
    result = outcome(lambda: cmtoy.induction_error(INTERP, 0.3, dts, n=8, n_nodes=4), numbers=False)
    if result is not None:
        assert np.all(np.isfinite(result.bias)) and np.all(np.isfinite(result.spread))
        distinct = np.unique(result.dts[result.bias > 0]).size
        assert np.isfinite(result.bias_slope) == (distinct >= 2)  # documented: NaN when undefined
