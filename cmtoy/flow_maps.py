"""The two-time flow-map model X_theta(t, s, x) ~ h_{t->s}(x), with X_theta(t, t, x) = x exactly.

A consistency function is one slice, s = 0, of the probability-flow map h_{t->s} =
F_s^{-1} o F_t, which cmtoy knows exactly for every pair of times
(``Interpolant.flow_map(x, t, s)``). A flow map model learns the whole map for
0 <= s <= t <= 1 (Boffi, Albergo & Vanden-Eijnden 2024, arXiv 2406.07507), written through
the *average velocity* u of the flow between the two times (Geng et al. 2025, MeanFlow,
arXiv 2505.13447, eq. 3, in cmtoy's direction of time: noise at t = 1, data at 0)::

    X_theta(t, s, x) = x - (t - s) u_theta(t, s, x),
    u_theta(t, s, x) = c_u F_theta(t, s, c_in(t) x),     c_in(t) = 1 / sqrt(A_t),  c_u = sqrt(sigma_d^2 + 1),

with A_t = alpha_t^2 sigma_d^2 + sigma_t^2 = Var[x_t] and F_theta a two-time network
(``MLPConfig(n_times=2)``). Why this form:

- X(t, t, x) = x holds exactly, for any weights: the factor (t - s) is 0 there. It is the
  boundary condition of a consistency model, now on the whole diagonal.
- On the diagonal the average velocity is the velocity itself, u(t, t, x) = v_t(x) (the
  "tangent condition" of Boffi et al. 2025, arXiv 2505.18825), so every method can learn
  the diagonal by flow matching, and u is the quantity their losses are written in.
- c_in keeps the network's input at unit variance (as in :mod:`cmtoy.consistency`), and
  c_u is the standard deviation of the conditional velocity x_1 - x_0 of the linear
  schedule, so F_theta learns a unit-scale quantity. Only c_in depends on time, so the
  derivatives that MeanFlow and FMD need stay short: d u = c_u dF with the network's
  input tangent d(c_in x) = c_in'(t) x dt + c_in dx.

At s = 0 the model is a consistency function, ``model(t, x) = X_theta(t, 0, x)``, so
``cmtoy.sample``, ``cmtoy.flow_map_error`` and the figures take it as they take a
:class:`cmtoy.ConsistencyModel`; ``cmtoy.sample(..., chain="compose")`` samples in any
number of steps by composing X_theta down to 0.

Shapes: ``t, s, x: [B]`` unless stated.
"""

from __future__ import annotations

import numpy as np

from . import mlp
from .consistency import MODEL_FORMATS, LearnedModel
from .validation import finite_array, unit_times

__all__ = ["FlowMapModel", "check_time_pairs"]


def check_time_pairs(t, s):
    """The times (t, s) of a flow map as broadcast float arrays, with 0 <= s <= t <= 1.

    t, s: broadcastable -> (t, s) [*batch]; ValueError naming the first bad pair.
    """
    t, s = np.broadcast_arrays(unit_times("t", t), unit_times("s", s))
    if np.any(s > t):
        i = np.flatnonzero((s > t).ravel())[0]
        raise ValueError(f"a flow map goes back in time: it needs s <= t, got t={float(t.ravel()[i])!r} "
                         f"and s={float(s.ravel()[i])!r}")
    return t, s


class FlowMapModel(LearnedModel):
    """X_theta(t, s, x) = x - (t - s) c_u F_theta(t, s, c_in(t) x), F_theta a two-time MLP.

    Parameters: see :class:`cmtoy.consistency.LearnedModel` (a network of two times,
    ``MLPConfig(n_times=2)``).
    """

    FORMAT = "cmtoy.FlowMapModel"  # the "format" of its saved metadata (cmtoy.load_model)
    N_TIMES = 2

    @property
    def c_u(self):
        """The scale of the average velocity: sqrt(sigma_d^2 + 1), the std of x_1 - x_0."""
        return float(np.sqrt(self.sigma_d**2 + 1.0))

    # -- the average velocity and its derivatives ----------------------------------------

    def c_in(self, t):
        """c_in(t) = A_t^{-1/2} and its derivative -A'_t / (2 A_t^{3/2}). t: [B] -> ([B], [B])"""
        alpha, sigma = self.schedule.alpha(t), self.schedule.sigma(t)
        var_t = alpha * alpha * self.sigma_d**2 + sigma * sigma  # A_t
        d_var_t = 2.0 * (alpha * self.schedule.d_alpha(t) * self.sigma_d**2 + sigma * self.schedule.d_sigma(t))
        c_in = 1.0 / np.sqrt(var_t)
        return c_in, -0.5 * d_var_t * c_in / var_t

    def velocity(self, params, t, s, x):
        """u_theta(t, s, x) and what :meth:`backward` needs. -> (u [B], cache)"""
        c_in, _ = self.c_in(t)
        net_out, net_cache = mlp.forward(params, t, c_in * x, s=s)
        return self.c_u * net_out, net_cache

    def velocity_jvp(self, params, t, s, x, d_t, d_s, d_x):
        """u_theta(t, s, x), its derivative along (d_t, d_s, d_x), and the cache for :meth:`backward`.

        d u = c_u dF(t, s, y) with y = c_in(t) x, d y = c_in'(t) x d_t + c_in(t) d_x.
        t, s, x, d_t, d_s, d_x: [B] (broadcastable) -> (u [B], du [B], cache)
        """
        c_in, d_c_in = self.c_in(t)
        net_out, d_net, net_cache = mlp.jvp(params, t, c_in * x, d_t, d_c_in * x * d_t + c_in * d_x,
                                            s=s, d_s=d_s, return_cache=True)
        return self.c_u * net_out, self.c_u * d_net, net_cache

    def backward(self, params, cache, d_u, out=None):
        """Gradient of a loss with respect to the weights, given d loss / d u: [B] -> Params

        out: optional Params to write the gradient into (a training loop reuses one).
        """
        return mlp.backward(params, cache, self.c_u * d_u, out=out)  # u = c_u F

    def jvp_backward(self, params, cache, d_u, d_du, out=None):
        """Gradient of a loss of u and of its derivative du from :meth:`velocity_jvp` (given
        d loss / d u and d loss / d du, both [B]) with respect to the weights -> Params.
        The tangent's input part c_in'(t) x d_t + c_in d_x holds no weight, so u = c_u F and
        du = c_u dF are all there is to it."""
        return mlp.jvp_backward(params, cache, self.c_u * d_u, self.c_u * d_du, out=out)

    def forward(self, params, t, s, x):
        """X_theta(t, s, x) with the weights ``params`` (no validation: a training loop's). -> [B]"""
        return x - (t - s) * self.velocity(params, t, s, x)[0]

    # -- the model as users see it -------------------------------------------------------

    def flow_map(self, x, t, s):
        """X_theta(t -> s)(x), the learned h_{t->s}(x), for 0 <= s <= t <= 1.

        Same argument order as ``Interpolant.flow_map``. X(t, t, x) = x exactly.
        x, t, s: broadcastable -> [*batch]; ValueError for s > t, times outside [0, 1] or
        x not finite (|x| <= 1e100).
        """
        t, s = check_time_pairs(t, s)
        return self._in_chunks(lambda t, s, x: self.forward(self.params, t, s, x), t, s, finite_array("x", x))

    def __call__(self, t, x):
        """The consistency function of the flow map, X_theta(t, 0, x). t, x: broadcastable -> [*batch]"""
        return self.flow_map(x, t, 0.0)


MODEL_FORMATS[FlowMapModel.FORMAT] = FlowMapModel  # so that cmtoy.load_model reads it
