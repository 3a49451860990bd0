"""GaussianMixture: closed forms against quadrature, quantiles, validation."""

import numpy as np
import pytest
from scipy import integrate, stats

import cmtoy
from cmtoy import GaussianMixture


def test_pdf_integrates_to_one_and_cdf_is_its_integral(three_mixture):
    mix = three_mixture
    total, _ = integrate.quad(mix.pdf, -np.inf, np.inf, points=None, limit=200)
    assert total == pytest.approx(1.0, abs=1e-10)
    for x in [-2.5, -1.0, 0.3, 0.31, 2.0, 5.0]:
        pieces = [-30.0] + sorted(m for m in mix.means if m < x) + [x]
        integral = sum(integrate.quad(mix.pdf, a, b, limit=200)[0] for a, b in zip(pieces, pieces[1:]))
        assert mix.cdf(x) == pytest.approx(integral, abs=1e-10)


def test_pdf_matches_scipy_components(three_mixture):
    mix = three_mixture
    x = np.linspace(-4, 5, 101)
    want = sum(w * stats.norm.pdf(x, m, s) for w, m, s in zip(mix.weights, mix.means, mix.stds))
    np.testing.assert_allclose(mix.pdf(x), want, rtol=1e-12)


def test_mean_and_var_against_quadrature(three_mixture):
    mix = three_mixture
    mean = integrate.quad(lambda x: x * mix.pdf(x), -30, 30, points=list(mix.means), limit=200)[0]
    second = integrate.quad(lambda x: x * x * mix.pdf(x), -30, 30, points=list(mix.means), limit=200)[0]
    assert mix.mean == pytest.approx(mean, abs=1e-9)
    assert mix.var == pytest.approx(second - mean**2, abs=1e-9)


def test_ppf_inverts_cdf_in_the_bulk_and_the_tails(three_mixture, seed_mixture):
    for mix in (three_mixture, seed_mixture):
        u = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 2001), [1e-300, 1e-100, 1e-20, 0.5]])
        x = mix.ppf(u)
        # quantiles are exact to 1e-13 (1 + |x|) (the quantile table's check), so F(x) may
        # differ from u by p(x) times that, beyond the 1e-12 relative rounding of F itself
        assert np.all(np.abs(mix.cdf(x) - u) <= 1e-12 * u + mix.pdf(x) * 1e-13 * (1 + np.abs(x)))
        # upper tail: 1 - F is computed directly, so tiny upper tails invert too
        v = np.array([1e-300, 1e-100, 1e-20, 1e-8])
        np.testing.assert_allclose(mix.sf(mix.ppf(1 - v[-1:])), v[-1:], rtol=1e-7)
        y = mix.quantile_from_log(np.log(v), upper=True)
        np.testing.assert_allclose(mix.sf(y), v, rtol=1e-11)
        assert np.all(np.diff(x[:2001]) > 0)


def test_ppf_of_cdf_is_identity(three_mixture):
    x = np.linspace(-3, 4, 301)
    np.testing.assert_allclose(three_mixture.ppf(three_mixture.cdf(x)), x, atol=1e-9)


def test_ppf_edges():
    mix = cmtoy.SEED_MIXTURE
    assert mix.ppf(0.0) == -np.inf and mix.ppf(1.0) == np.inf
    with pytest.raises(ValueError, match="u must lie in"):
        mix.ppf(1.5)


def test_sample_is_deterministic_and_has_the_right_law(three_mixture):
    a = three_mixture.sample(np.random.default_rng(7), 20000)
    b = three_mixture.sample(np.random.default_rng(7), 20000)
    assert np.array_equal(a, b)
    assert stats.kstest(a, three_mixture.cdf).pvalue > 1e-3


def test_weights_are_normalised_without_touching_the_callers_array():
    w = np.array([4.0, 1.0])
    mix = GaussianMixture([0.0, 1.0], [1.0, 1.0], w)
    np.testing.assert_allclose(mix.weights, [0.8, 0.2])
    assert w.tolist() == [4.0, 1.0]
    with pytest.raises(ValueError):
        mix.weights[0] = 1.0  # read-only: a mixture never changes after validation


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(means=[], stds=[]), "empty"),
        (dict(means=[0.0], stds=[0.0]), r"stds must all be > 0, got \[0.0\]"),
        (dict(means=[0.0, 1.0], stds=[1.0, -0.1]), "stds must all be > 0"),
        (dict(means=[0.0, 1.0], stds=[1.0, 1.0], weights=[1.0, -1.0]), r"weights must all be >= 0, got \[1.0, -1.0\]"),
        (dict(means=[0.0, 1.0], stds=[1.0, 1.0], weights=[0.0, 0.0]), "must not all be zero"),
        (dict(means=[0.0, 1.0], stds=[1.0, 1.0], weights=[1.0]), "same length, got 2, 2 and 1"),
        (dict(means=[0.0, 1.0], stds=[1.0]), "same length"),
        (dict(means=[0.0, np.nan], stds=[1.0, 1.0]), "means must be finite"),
        (dict(means=[0.0], stds=[np.inf]), "stds must be finite"),
        (dict(means=[0.0], stds=[1.0], weights=[np.inf]), "weights must be finite"),
        (dict(means=[[0.0]], stds=[1.0]), "one-dimensional"),
    ],
)
def test_bad_mixtures_are_rejected_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(**kwargs)


def test_bad_types_and_counts():
    with pytest.raises(TypeError, match="means must be a sequence"):
        GaussianMixture("abc", [1.0])
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        cmtoy.SEED_MIXTURE.sample(0, 3)
    with pytest.raises(ValueError, match="non-negative integer"):
        cmtoy.SEED_MIXTURE.sample(np.random.default_rng(0), -1)
    with pytest.raises(ValueError, match="x contains NaN"):
        cmtoy.SEED_MIXTURE.pdf([0.0, np.nan])


@pytest.mark.parametrize(
    "mix",
    [
        cmtoy.SEED_MIXTURE,
        GaussianMixture([-2.0, 0.3, 3.0], [0.2, 0.05, 0.7], [0.5, 0.2, 0.3]),
        GaussianMixture([0.0, 0.0, 4.0], [0.01, 2.0, 0.3], [0.3, 0.6, 0.1]),
    ],
    ids=["seed", "three unequal", "narrow and wide"],
)
def test_quantile_table_cells_marked_exact_are_exact_everywhere_inside(mix):
    """Cells checked at their midpoints answer without Newton: anywhere inside them the cubic
    must match the quantile that the Newton solver certifies (and that the forward CDF confirms)."""
    from scipy import special

    from cmtoy.mixture_kernels import mixture_quantile

    table = mix.quantile_table()
    kappa, cells = table.kappa, table.cells
    h, m = kappa[1] - kappa[0], kappa.size
    exact = cells[:, 6] == 1.0
    assert exact.mean() > 0.9  # the table answers most points by itself
    rng = np.random.default_rng(5)
    for row, upper in enumerate((False, True)):
        j = rng.choice(np.flatnonzero(exact[row * m : (row + 1) * m]), size=3000)
        u = rng.uniform(size=j.size)
        log_p = special.log_ndtr(kappa[j] + u * h)
        got = mix.quantile_from_log(log_p, np.full(j.size, upper))
        solved = mixture_quantile(log_p, upper, mix.means, mix.stds, mix.log_weights)  # no table
        error = np.abs(got - solved) / (1.0 + np.abs(solved))
        assert error.max() <= 1e-12, f"{'upper' if upper else 'lower'} tail: {error.max():.2e}"
        back = mix.logsf(got) if upper else mix.logcdf(got)
        np.testing.assert_allclose(back, log_p, rtol=1e-11)
