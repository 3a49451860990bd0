"""The network F_theta(t, x): a multilayer perceptron in plain NumPy with hand-written derivatives.

The consistency function of cmtoy is ``f_theta(t, x) = c_skip(t) x + c_out(t) F_theta(t, c_in(t) x)``
(Song et al. 2023, eq. 5; see :mod:`cmtoy.consistency`). This module is the raw network
``F_theta``: a time embedding of t concatenated with x, ``depth`` hidden layers of ``width``
units, and a linear output unit::

    h_0 = [x, t, sin(omega_k t), cos(omega_k t)]          time embedding, omega_k = k pi
    z_l = h_l W_l + b_l,   h_{l+1} = act(z_l)             l = 0 .. depth - 1
    out = h_depth W_depth + b_depth                       one scalar per sample

A flow map X_theta(t, s, x) (:mod:`cmtoy.flow_maps`) needs a network of two times,
``MLPConfig(n_times=2)``, F_theta(t, s, x): the same layers on the embedding of both times,

    h_0 = [x, t, s, sin(omega_k t), cos(omega_k t), sin(omega_k s), cos(omega_k s)]

and every function below takes the second time as the keyword ``s`` (and its tangent as
``d_s``). With the default ``n_times=1`` nothing changes: the same columns, the same
numbers, so networks saved before load and compute bit for bit as they did.

Three pure functions read one flat parameter buffer and never store state:

- :func:`forward` returns ``(out, cache)``; :func:`backward` takes the cache and
  ``d_out = dL/d out`` and returns ``dL/d theta`` laid out exactly like the parameters
  (reverse mode: it mirrors the forward pass line by line, in reverse).
- :func:`jvp` pushes a tangent ``(d_t, d_x)`` (two times: ``(d_t, d_s, d_x)``) of the inputs
  through the same layers (forward mode) and returns ``dF = dF/dt d_t + dF/dx d_x``: the
  derivative needed by continuous-time consistency losses (Song et al. 2023, Sec. 5), by
  MeanFlow's identity (Geng et al. 2025, arXiv 2505.13447) and by change-of-variables
  densities ``p(f(x)) |df/dx|``.

Shapes: ``t, s, x: [*batch]`` (broadcast together, flattened to ``[B]`` inside);
``h_l: [B, fan_in]``, ``W_l: [fan_in, fan_out]``, ``b_l: [fan_out]``.

Precision: float64 by default (every derivative is checked against finite differences in
float64). ``MLPConfig(dtype="float32")`` runs the layers in single precision, which makes
a training step faster on CPUs without AVX-512 (benchmarks/bench_step.py measures by how
much): there NumPy vectorises the float32 exp of the sigmoid but not the float64 one, and
float32 matrix products do twice the work per instruction. Inputs and tangents are
accepted in any float dtype and cast once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .validation import choice, integer

__all__ = ["MLPConfig", "Params", "init_params", "forward", "backward", "jvp", "jvp_backward", "input_grads", "time_features"]

ACTIVATIONS = ("silu", "tanh")
DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class MLPConfig:
    """Shape of the network F_theta(t, x). Validated at construction."""

    width: int = 64  # hidden units per layer
    depth: int = 3  # number of hidden layers (>= 1)
    activation: str = "silu"  # "silu" (x sigmoid(x), Elfwing et al. 2018) or "tanh"
    n_fourier: int = 16  # time features sin(k pi t), cos(k pi t) for k = 1 .. n_fourier (>= 0)
    dtype: str = "float64"  # precision of the parameters and the layers: "float64" or "float32"
    n_times: int = 1  # time inputs: 1 for F(t, x), 2 for a flow map's F(t, s, x)

    def __post_init__(self):
        for name, low, high in (("width", 1, None), ("depth", 1, None), ("n_fourier", 0, None), ("n_times", 1, 2)):
            object.__setattr__(self, name, integer(f"MLPConfig.{name}", getattr(self, name), low, high))
        choice("MLPConfig.activation", self.activation, ACTIVATIONS)
        choice("MLPConfig.dtype", self.dtype, DTYPES)

    @property
    def n_inputs(self):
        """Width of the input layer: x, then per time the time and its 2 n_fourier features."""
        return 1 + self.n_times * (1 + 2 * self.n_fourier)

    def describe(self):
        """The fields as a dict, without ``n_times`` when it is 1: a one-time network is
        described as it was before networks had a second time, so saved models and the
        reference model's training key (:func:`cmtoy.reference.training_key`) stay valid."""
        fields = dataclasses.asdict(self)
        if self.n_times == 1:
            del fields["n_times"]
        return fields

    def layer_shapes(self):
        """[(fan_in, fan_out)] of the depth + 1 affine layers, input to output."""
        fans = [self.n_inputs] + [self.width] * self.depth + [1]
        return list(zip(fans[:-1], fans[1:]))

    @property
    def n_params(self):
        """Total number of parameters P = sum over layers of (fan_in + 1) fan_out."""
        return sum((fan_in + 1) * fan_out for fan_in, fan_out in self.layer_shapes())


class Params:
    """All parameters of one network in ONE flat buffer (of ``config.dtype``), with named views into it.

    ``flat: [P]`` is laid out layer by layer as ``W_0, b_0, W_1, b_1, ..., W_depth, b_depth``
    (row-major), and ``W[l]: [fan_in, fan_out]``, ``b[l]: [fan_out]`` are views of it:
    writing into ``flat`` (Adam, EMA) updates every ``W[l]`` and ``b[l]`` and vice versa.
    Gradients use the same class, hence the same layout: ``grads.flat`` lines up with
    ``params.flat`` element by element.
    """

    __slots__ = ("config", "flat", "W", "b")

    def __init__(self, config, flat=None):
        if not isinstance(config, MLPConfig):
            raise TypeError(f"Params needs an MLPConfig, got {type(config).__name__}")
        if flat is None:
            flat = np.zeros(config.n_params, dtype=config.dtype)
        if not isinstance(flat, np.ndarray) or flat.dtype != config.dtype or flat.shape != (config.n_params,):
            raise ValueError(
                f"Params.flat must be a {config.dtype} array of shape ({config.n_params},) for {config}, "
                f"got {getattr(flat, 'dtype', type(flat).__name__)} of shape {np.shape(flat)}"
            )
        self.config, self.flat, self.W, self.b = config, flat, [], []
        offset = 0
        for fan_in, fan_out in config.layer_shapes():
            self.W.append(flat[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out))
            offset += fan_in * fan_out
            self.b.append(flat[offset : offset + fan_out])
            offset += fan_out

    def named(self):
        """{"W_0": W[0], "b_0": b[0], ...}: the views by name, in layout order."""
        out = {}
        for layer, (W, b) in enumerate(zip(self.W, self.b)):
            out[f"W_{layer}"], out[f"b_{layer}"] = W, b
        return out

    def copy(self):
        """An independent copy (new flat buffer, new views)."""
        return Params(self.config, self.flat.copy())

    def __repr__(self):
        return f"Params({self.config}, n_params={self.flat.size})"


def init_params(config, rng):
    """Random initial parameters: W_l ~ N(0, 1 / fan_in) (LeCun et al. 1998), b_l = 0.

    The 1 / fan_in variance keeps the pre-activations of every layer at unit scale for
    inputs of unit scale, which is what the caller's input scaling c_in provides.
    rng: numpy.random.Generator; the same seed gives bit-identical parameters.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    params = Params(config)
    for W in params.W:
        W[...] = rng.standard_normal(W.shape) / np.sqrt(W.shape[0])
    return params


# ----------------------------------------------------------------------------------------
# Activations: act(z) returns (a, aux); d_act(a, aux) = d a / d z, elementwise.
# ----------------------------------------------------------------------------------------


# Both overwrite z with a = act(z): z is not needed afterwards, and a [B, width]
# allocation per layer is a measurable part of a step at this size.


def _sigmoid(z):
    """1 / (1 + e^{-z}) as a new array, stable for large |z|.

    float64: scipy's expit. float32: NumPy's exp, vectorised in single precision; where
    e^{-z} overflows (z < -88.7) it is inf and 1 / (1 + inf) = 0, the sigmoid rounded to
    float32's range.
    """
    if z.dtype == np.float64:
        return expit(z)
    with np.errstate(over="ignore"):
        s = np.exp(np.negative(z))
    s += 1.0
    return np.reciprocal(s, out=s)


def _silu(z):
    s = _sigmoid(z)
    return np.multiply(z, s, out=z), s  # a = z s


def _d_silu(a, s):
    d = 1.0 - s  # d/dz [z s(z)] = s + z s (1 - s) = s + a (1 - s)
    d *= a
    d += s
    return d


def _tanh(z):
    a = np.tanh(z, out=z)
    return a, a


def _d_tanh(a, _):
    d = a * a  # d/dz tanh(z) = 1 - tanh(z)^2
    np.subtract(1.0, d, out=d)
    return d


def _dd_silu(a, s):
    # d^2/dz^2 [z s(z)] = s (1 - s) (2 + z (1 - 2 s)), written with a = z s so that z itself
    # (lost to the in-place activation, and a / s where s underflows) is not needed
    return (1.0 - s) * (2.0 * s + a * (1.0 - 2.0 * s))


def _dd_tanh(a, _):
    return -2.0 * a * (1.0 - a * a)  # d/dz (1 - tanh^2) = -2 tanh (1 - tanh^2)


_ACT = {"silu": (_silu, _d_silu), "tanh": (_tanh, _d_tanh)}
_SECOND = {"silu": _dd_silu, "tanh": _dd_tanh}  # act''(z) from what act saved, for jvp_backward


# ----------------------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------------------


def _batch(*arrays):
    """Broadcast t, x (and tangents) to one shape; return them flattened to [B] and the shape."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in arrays))
    return [a.reshape(-1) for a in arrays], arrays[0].shape


def _times(config, t, s):
    """The time inputs of a network as a list [t] or [t, s], refusing a missing or extra s."""
    if (s is None) != (config.n_times == 1):
        given = "no s" if s is None else "an s"
        raise ValueError(f"a network with n_times={config.n_times} needs "
                         f"{'exactly one time t' if config.n_times == 1 else 'two times t and s'}; got {given}")
    return [t] if s is None else [t, s]


def _harmonics(t, n):
    """(sin(k pi t), cos(k pi t)) for k = 1..n, each [B, n], in float64.

    The harmonics come from de Moivre's formula e^{i k pi t} = (e^{i pi t})^k: one complex
    exponential per sample, then products e^{i (j + m) pi t} = e^{i j pi t} e^{i m pi t}
    that double the range of known k at each pass: cheaper than 2n sin/cos calls per
    sample, and as accurate (the phase error of k pi t grows like k either way).
    """
    e = np.empty((n, t.size), dtype=np.complex128)  # e[k - 1] = e^{i k pi t}
    e[0] = np.exp(1j * np.pi * t)
    m = 1  # e[:m] are known
    while m < n:
        new = min(m, n - m)
        np.multiply(e[:new], e[m - 1], out=e[m : m + new])  # k = j + m for j = 1..new
        m += new
    return e.imag.T, e.real.T


def _harmonics_float32(t, n):
    """(sin(k pi t), cos(k pi t)) for k = 1..n, each [B, n], in float32.

    The phases k t are reduced modulo 2 in float64 first, so that the float32 angles
    pi (k t mod 2) lie in [0, 2 pi) and carry no more error than float32 inputs do; float32
    sin and cos are vectorised, which makes this faster than :func:`_harmonics`.
    """
    phase = np.multiply.outer(t, np.arange(1.0, n + 1.0))  # k t   (B, n)
    phase -= 2.0 * np.floor(0.5 * phase)  # k t mod 2
    angle = (np.pi * phase).astype(np.float32)
    return np.sin(angle), np.cos(angle)


def _embed_times(times, x, n, dtype):
    """h_0 = [x, t, (s), sin(k pi t), cos(k pi t), (sin(k pi s), cos(k pi s))], k = 1..n.

    times: [t] or [t, s], each [B]; x: [B] -> [B, 1 + len(times) (1 + 2n)] of dtype
    """
    m = len(times)
    h_0 = np.empty((x.size, 1 + m * (1 + 2 * n)), dtype=dtype)
    h_0[:, 0] = x
    for j, t in enumerate(times):
        h_0[:, 1 + j] = t
        if n == 0:
            continue
        first = 1 + m + 2 * n * j  # the sin block of time j, then its cos block
        harmonics = _harmonics_float32 if dtype == np.float32 else _harmonics
        h_0[:, first : first + n], h_0[:, first + n : first + 2 * n] = harmonics(t, n)
    return h_0


def _features(params, times, x, time_features=None):
    """The network input h_0 in the network's precision. times: [t] or [t, s], x: [B] -> [B, n_inputs]

    time_features: optional [B, n_times 2 n_fourier], the columns of h_0 after x and the
    times, computed beforehand for these times (see :func:`time_features`).
    """
    if time_features is not None:
        m = len(times)
        h_0 = np.empty((x.size, params.config.n_inputs), dtype=params.flat.dtype)
        h_0[:, 0] = x
        for j, t in enumerate(times):
            h_0[:, 1 + j] = t
        h_0[:, 1 + m :] = time_features
        return h_0
    return _embed_times(times, x, params.config.n_fourier, params.flat.dtype.type)


def time_features(params, t, s=None):
    """The time columns of the network input, [sin(k pi t), cos(k pi t)(, the same of s)], for reuse.

    A training loop whose times come from a fixed grid computes them once per grid point
    and passes rows of them to :func:`forward`; the network sees the same values.
    params: Params (for n_fourier and the precision); t, s: [T] -> [T, n_times 2 n_fourier]
    """
    arrays, _ = _batch(t) if s is None else _batch(t, s)
    times = _times(params.config, arrays[0], None if s is None else arrays[1])
    return _features(params, times, np.zeros_like(arrays[0]))[:, 1 + len(times) :]


def forward(params, t, x, time_features=None, s=None):
    """F_theta(t, x) (two times: F_theta(t, s, x)) and the cache that :func:`backward` needs.

    params: Params; t: [*batch]; x: [*batch] (already input-scaled by the caller);
    s: [*batch], the second time, given exactly when ``params.config.n_times == 2``
    time_features: optional [B, n_times 2 n_fourier] from :func:`time_features` for these times (flattened)
    returns out: [*batch], cache = (hs, auxs): the input h_l of every layer and what each
    activation saved for its derivative (sigmoid(z) for SiLU, tanh(z) for tanh)
    """
    act = _ACT[params.config.activation][0]
    if s is None:
        (t, x), shape = _batch(t, x)
    else:
        (t, x, s), shape = _batch(t, x, s)
    h = _features(params, _times(params.config, t, s), x, time_features)  # (B, n_inputs)
    hs, auxs = [h], []
    for W, b in zip(params.W[:-1], params.b[:-1]):
        z = h @ W  # (B, width)
        z += b
        h, aux = act(z)  # (B, width)
        hs.append(h)
        auxs.append(aux)
    out = h @ params.W[-1]  # (B, 1)
    out += params.b[-1]
    return out.reshape(shape), (hs, auxs)


def backward(params, cache, d_out, out=None):
    """dL/d theta from d_out = dL/d out, by the chain rule run backwards through :func:`forward`.

    params: Params (the same as in forward); cache: from forward; d_out: [*batch]
    out: optional Params to write the gradients into (saves allocations in a training loop)
    returns grads: Params, same layout as params (grads.flat lines up with params.flat)
    """
    d_act = _ACT[params.config.activation][1]
    hs, auxs = cache[:2]  # a cache of jvp also holds its tangents (see jvp_backward)
    grads = Params(params.config) if out is None else out
    d_z = np.asarray(d_out, dtype=params.flat.dtype).reshape(-1, 1)  # (B, 1)
    if d_z.shape[0] != hs[0].shape[0]:
        raise ValueError(f"backward: d_out has {d_z.shape[0]} entries, the forward batch had {hs[0].shape[0]}")
    ones = np.ones(d_z.shape[0], dtype=d_z.dtype)  # (B,)
    for layer in reversed(range(len(params.W))):
        h = hs[layer]
        np.matmul(h.T, d_z, out=grads.W[layer])  # z = h W + b  =>  dW = h^T dz
        np.matmul(ones, d_z, out=grads.b[layer])  #                 db = 1^T dz, the sum over the batch
        if layer == 0:
            break  # the inputs t, x are not parameters (their derivatives: see jvp)
        d_h = d_z @ params.W[layer].T  # dh = dz W^T   (B, fan_in)
        d_h *= d_act(h, auxs[layer - 1])  # h = act(z)  =>  dz = dh act'(z)
        d_z = d_h
    return grads


def jvp(params, t, x, d_t, d_x, s=None, d_s=None, return_cache=False):
    """Forward-mode derivative: F_theta(t, x) and dF = dF/dt d_t + dF/dx d_x.

    Every line of :func:`forward` is followed by its tangent line ``dot_<name>``. A two-time
    network (``n_times=2``) takes ``s`` and its tangent ``d_s`` (default 0) as well:
    dF = dF/dt d_t + dF/ds d_s + dF/dx d_x, e.g. MeanFlow's total derivative along the flow,
    d_t = 1, d_s = 0, d_x = v (Geng et al. 2025, arXiv 2505.13447, eq. 8).
    params: Params; t, x, d_t, d_x, s, d_s: [*batch] (broadcast together)
    return_cache: also return the cache of :func:`forward` at (t, s, x) (the same values), so
    that a loss that needs F, its tangent and its gradient runs the layers once; it holds the
    tangents of every layer too, for :func:`jvp_backward`
    returns out: [*batch], d_out: [*batch] (and the cache)
    """
    act, d_act = _ACT[params.config.activation]
    if s is None:
        (t, x, d_t, d_x), shape = _batch(t, x, d_t, d_x)
        tangents = [d_t]
    else:
        (t, x, d_t, d_x, s, d_s), shape = _batch(t, x, d_t, d_x, s, 0.0 if d_s is None else d_s)
        tangents = [d_t, d_s]
    times = _times(params.config, t, s)
    m, n = len(times), params.config.n_fourier
    h = _features(params, times, x)  # (B, n_inputs)
    dot_h = np.empty_like(h)
    dot_h[:, 0] = d_x
    omega = np.pi * np.arange(1, n + 1)
    for j, d_time in enumerate(tangents):
        dot_h[:, 1 + j] = d_time
        sin, cos = (slice(1 + m + 2 * n * j + i * n, 1 + m + 2 * n * j + (i + 1) * n) for i in (0, 1))
        omega_d_t = np.multiply.outer(d_time, omega)  # omega_k d_t  (B, n)
        dot_h[:, sin] = h[:, cos] * omega_d_t  # d sin(omega t) = cos(omega t) omega dt
        dot_h[:, cos] = -h[:, sin] * omega_d_t  # d cos(omega t) = -sin(omega t) omega dt
    hs, auxs, dot_hs, dot_zs = [h], [], [dot_h], []
    for W, b in zip(params.W[:-1], params.b[:-1]):
        z = h @ W + b
        dot_z = dot_h @ W  # the bias is constant
        h, aux = act(z)
        dot_h = d_act(h, aux) * dot_z  # dot a = act'(z) dot z
        hs.append(h)
        auxs.append(aux)
        dot_hs.append(dot_h)
        dot_zs.append(dot_z)
    out = h @ params.W[-1] + params.b[-1]
    dot_out = dot_h @ params.W[-1]
    if return_cache:
        return out.reshape(shape), dot_out.reshape(shape), (hs, auxs, dot_hs, dot_zs)
    return out.reshape(shape), dot_out.reshape(shape)


def jvp_backward(params, cache, d_out, d_dot_out, out=None):
    """dL/d theta of a loss of both outputs of :func:`jvp`, F and its tangent dF.

    The chain rule runs backwards through the layers and their tangent lines together:
    z = h W + b and dot z = dot h W give dW = h^T dL/dz + dot h^T dL/d(dot z); dot a =
    act'(z) dot z gives dL/d(dot z) = act'(z) dL/d(dot a) and adds act''(z) dot z dL/d(dot a)
    to dL/dz. A loss that holds a derivative of the network, as the residual losses of flow
    map distillation do (Boffi et al. 2024, arXiv 2406.07507), needs it.

    params: Params (the same as in jvp); cache: from ``jvp(..., return_cache=True)``;
    d_out = dL/dF, d_dot_out = dL/d(dF): [*batch]
    out: optional Params to write the gradients into
    returns grads: Params, same layout as params
    """
    d_act, dd_act = _ACT[params.config.activation][1], _SECOND[params.config.activation]
    if len(cache) != 4:
        raise ValueError("jvp_backward needs the cache of jvp(..., return_cache=True), which holds the tangents")
    hs, auxs, dot_hs, dot_zs = cache
    grads = Params(params.config) if out is None else out
    d_z, d_dot_z = (np.asarray(d, dtype=params.flat.dtype).reshape(-1, 1) for d in (d_out, d_dot_out))  # (B, 1)
    if not d_z.shape[0] == d_dot_z.shape[0] == hs[0].shape[0]:
        raise ValueError(f"jvp_backward: d_out and d_dot_out have {d_z.shape[0]} and {d_dot_z.shape[0]} entries, "
                         f"the jvp's batch had {hs[0].shape[0]}")
    ones = np.ones(d_z.shape[0], dtype=d_z.dtype)
    for layer in reversed(range(len(params.W))):
        np.matmul(hs[layer].T, d_z, out=grads.W[layer])
        grads.W[layer] += dot_hs[layer].T @ d_dot_z
        np.matmul(ones, d_z, out=grads.b[layer])  # the bias enters z only, not dot z
        if layer == 0:
            break  # the inputs and their tangents are not parameters
        W, h, aux = params.W[layer], hs[layer], auxs[layer - 1]
        d_h, d_dot_h = d_z @ W.T, d_dot_z @ W.T  # (B, fan_in)
        slope = d_act(h, aux)
        d_z = d_h * slope + d_dot_h * dot_zs[layer - 1] * dd_act(h, aux)
        d_dot_z = d_dot_h * slope
    return grads


def input_grads(params, t, x):
    """F_theta(t, x) and its partial derivatives dF/dt, dF/dx (two JVPs) of a one-time network.

    params: Params; t, x: [*batch]
    returns out, dF_dt, dF_dx: each [*batch]
    """
    out, dF_dt = jvp(params, t, x, 1.0, 0.0)
    _, dF_dx = jvp(params, t, x, 0.0, 1.0)
    return out, dF_dt, dF_dx
