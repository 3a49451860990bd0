"""A mixture's quantiles tabulated on a grid of normal scores: the fast path of its ppf.

The quantile of a Gaussian mixture is nearly linear in the normal score
kappa = Phi^{-1}(p) of its tail probability p, so a table of exact quantiles on a uniform
kappa-grid, joined by cubic Hermite cells, is close to the root everywhere: the lookup is
a division, not a search, and where a cell was checked to be exact the interpolant is the
answer. Elsewhere (near the gap between two modes) the cell starts the safeguarded Newton
iteration of :mod:`cmtoy.mixture_kernels` inside its bracket.

:class:`cmtoy.GaussianMixture` builds its table lazily, once, the first time its
quantiles are asked for; the marginals p_t of the interpolant are mixtures too and share
the code.

Shapes: ``log_p, upper: [*batch]``; component arrays ``means, stds, log_weights: [K]``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .mixture_kernels import LOG_SQRT_2PI, length_unit, mixture_logcdf, mixture_logpdf, mixture_quantile, solve_signed

__all__ = ["QuantileTable"]


class QuantileTable:
    """Exact quantiles at the grid kappa_j of normal scores, for the lower and upper tail.

    Between grid points y(kappa) is interpolated by the cubic that matches the values
    y_j, y_{j+1} and the exact slopes dy/dkappa at both ends (cubic Hermite), in Horner
    form: on cell j, with u = (kappa - kappa_j) / h in [0, 1],
    y = c_0 + u (c_1 + u (c_2 + u c_3)).

    The error of cubic Hermite interpolation is y^(4)(xi) h^4 u^2 (1 - u)^2 / 24, largest
    at the middle of a cell unless y^(4) varies quickly there. So each cell's interpolant
    is compared with the exact quantile at its midpoint, and the cell is marked exact if
    that error and those of both neighbouring cells (which would show a nearby
    singularity, as at the gap between two modes) are at most 1e-13 (u + |y|), with u the
    length unit of :func:`cmtoy.mixture_kernels.length_unit` (1 unless a component is
    narrower than 1e-3).

    Parameters
    ----------
    means, stds, log_weights : [K]
        The mixture's components (validated by the caller, :class:`cmtoy.GaussianMixture`).

    Attributes
    ----------
    kappa : [M]
        The grid of normal scores, p from 1e-324 to 1/2.
    cells : [2 M, 7]
        cells[j] = (lo, hi, c_0, c_1, c_2, c_3, exact) of cell j of the lower tail's
        quantiles F^{-1}(Phi(kappa)) and cells[M + j] of the upper tail's
        -S^{-1}(Phi(kappa)) (signed coordinates), both increasing in kappa. [lo, hi] is
        [y_j, y_{j+1}] widened by 1e-12 (u + |y_j| + |y_{j+1}|), a bracket of the root (the
        table is exact to rounding); ``exact`` is 1.0 for a cell checked as above, else
        0.0. The last cell of each tail is a placeholder that lookups never use.
    """

    KAPPA = np.linspace(-38.5, 0.0, 16385)  # p from 1e-324 to 1/2

    def __init__(self, means, stds, log_weights):
        self.means, self.stds, self.log_weights = means, stds, log_weights
        self.unit = unit = length_unit(stds)  # 1 unless a component is narrower than 1e-3
        kappa = self.KAPPA
        log_p = special.log_ndtr(kappa)
        z = np.concatenate([np.linspace(-8, 8, 161), np.linspace(-38, 38, 77)])
        rows = []
        for signed_means in (means, -means):
            # the upper tail of the mixture is the lower tail of its mirror image;
            # bracket the grid quantiles on a y-grid dense around every component
            # (out to 38 stds, where Phi underflows) and uniform across the gaps
            around = (signed_means[:, None] + stds[:, None] * z).ravel()
            y = np.unique(np.concatenate([around, np.linspace(around.min(), around.max(), 512)]))
            key = mixture_logcdf(y, signed_means, stds, log_weights)
            j = np.clip(np.searchsorted(key, log_p), 1, y.size - 1)
            inside = (log_p > key[0]) & (log_p <= key[-1])
            row = np.empty_like(kappa)
            y_lo, y_hi = y[j - 1][inside], y[j][inside]
            key_lo, key_hi = key[j - 1][inside], key[j][inside]
            with np.errstate(invalid="ignore", divide="ignore"):  # log F is nearly linear
                start = y_lo + (y_hi - y_lo) * (log_p[inside] - key_lo) / (key_hi - key_lo)
            start = np.where(np.isfinite(start), start, 0.5 * (y_lo + y_hi))
            row[inside] = mixture_quantile(
                log_p[inside], False, signed_means, stds, log_weights, x_init=start, lo=y_lo, hi=y_hi
            )
            if not np.all(inside):
                row[~inside] = mixture_quantile(log_p[~inside], False, signed_means, stds, log_weights)
            rows.append(row)
        signed = np.maximum.accumulate(np.stack(rows), axis=1)  # monotone despite rounding
        # dy/dkappa = phi(kappa) / p(y) on both rows (the mirrored mixture has the
        # mirrored density), in log space because phi(-38) is subnormal
        log_phi = -0.5 * kappa * kappa - LOG_SQRT_2PI
        with np.errstate(over="ignore"):
            slope = np.stack([
                np.exp(log_phi - mixture_logpdf(row, sm, stds, log_weights))
                for row, sm in zip(signed, (means, -means))
            ])
        a, b = signed, np.roll(signed, -1, axis=1)
        # deep in a gap between modes far apart the density underflows and the slope is
        # inf: the secant stands in, and the cell (no longer exact) is left to Newton
        slope = np.where(np.isfinite(slope), slope, (b - a) / (kappa[1] - kappa[0]))
        d_a, d_b = (kappa[1] - kappa[0]) * slope, (kappa[1] - kappa[0]) * np.roll(slope, -1, axis=1)
        c_2, c_3 = 3.0 * (b - a) - 2.0 * d_a - d_b, 2.0 * (a - b) + d_a + d_b
        pad = 1e-12 * (unit + np.abs(a) + np.abs(b))
        lo, hi = a - pad, b + pad
        # the check at the midpoints u = 1/2 of the cells (the last one is a placeholder)
        log_p_mid = special.log_ndtr(kappa[:-1] + 0.5 * (kappa[1] - kappa[0]))
        exact = np.zeros_like(a)
        for row, signed_means in enumerate((means, -means)):
            mid = (a + 0.5 * (d_a + 0.5 * (c_2 + 0.5 * c_3)))[row, :-1]
            solved = mixture_quantile(log_p_mid, False, signed_means, stds, log_weights,
                                      x_init=mid, lo=lo[row, :-1], hi=hi[row, :-1])
            error = np.abs(mid - solved) / (unit + np.abs(solved))
            error = np.concatenate([[np.inf], error, [np.inf]])
            worst = np.maximum(np.maximum(error[:-2], error[1:-1]), error[2:])
            exact[row, :-1] = worst <= 1e-13
        self.kappa = kappa
        self.cells = np.stack([lo, hi, a, d_a, c_2, c_3, exact], axis=-1).reshape(-1, 7)

    def quantile(self, log_p, upper):
        """Solve log F(y) = log_p (lower tail) or log(1 - F(y)) = log_p (``upper``).

        log_p = -inf gives -inf (lower) or +inf (upper), log_p = 0 the other end; scores
        beyond the table are solved from the component-quantile bracket.

        log_p: [*batch] (<= 0); upper: [*batch] bool. returns [*batch]
        """
        log_p, upper = np.broadcast_arrays(np.asarray(log_p, float), np.asarray(upper, bool))
        out = np.where(upper == (log_p < 0), np.inf, -np.inf)  # p = 0 or p = 1: an end of the line
        finite = np.isfinite(log_p) & (log_p < 0)
        lp, up = log_p[finite], upper[finite]
        kappa_grid, cells = self.kappa, self.cells
        h = kappa_grid[1] - kappa_grid[0]
        pos = (special.ndtri_exp(np.minimum(lp, 0.0)) - kappa_grid[0]) / h
        inside = (pos >= 0) & (pos <= kappa_grid.size - 1)
        j = np.clip(pos.astype(np.intp), 0, kappa_grid.size - 2)
        u = pos - j
        j += up * kappa_grid.size  # the upper-tail cells follow the lower-tail ones
        lo, hi, c_0, c_1, c_2, c_3, exact = cells.take(j, axis=0).T.copy()  # one gather per point
        guess = c_0 + u * (c_1 + u * (c_2 + u * c_3))  # the cell's cubic Hermite interpolant
        sign = 1.0 - 2.0 * up  # -1 for an upper tail
        y = sign * guess
        refine = np.flatnonzero(inside & (exact == 0.0))
        if refine.size:
            m, s = self.means[None], self.stds[None]
            lp_r, sign_r, guess_r, lo_r, hi_r = (a.take(refine) for a in (lp, sign, guess, lo, hi))
            y[refine] = sign_r * solve_signed(lp_r, sign_r, m, s, self.log_weights, guess_r, lo_r, hi_r,
                                              unit=self.unit)
        if not np.all(inside):  # beyond the table: from the component-quantile bracket
            y[~inside] = mixture_quantile(lp[~inside], up[~inside], self.means, self.stds, self.log_weights)
        out[finite] = y
        return out
