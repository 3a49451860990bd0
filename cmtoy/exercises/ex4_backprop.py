"""Exercise 4: the backward pass of one linear + SiLU layer, checked by finite differences.

The layer (the building block of cmtoy's MLP) is

    h = x W + b,        y = silu(h) = h sigmoid(h),

with x: [B, d_in], W: [d_in, d_out], b: [d_out], y: [B, d_out]. Given the gradient of a
loss with respect to the output, d_y = dL/dy: [B, d_out], the student writes

    linear_silu_backward(x, W, b, d_y) -> (d_x, d_W, d_b)

with d_x: [B, d_in], d_W: [d_in, d_out], d_b: [d_out]. The checker's reference is not a
second hand-written backward pass but central finite differences of the scalar
L(x, W, b) = sum(d_y * y), whose gradient is exactly (d_x, d_W, d_b).
"""

from __future__ import annotations

import numpy as np

from .checking import TIME_LIMIT, Case, Mistake, case_rng, report, run_cases

__all__ = ["check_linear_silu_backward", "linear_silu_forward", "numerical_gradient"]


def _sigmoid(h):
    # written through tanh so that it neither overflows nor warns for large |h|
    return 0.5 * (1.0 + np.tanh(0.5 * h))


def linear_silu_forward(x, W, b):
    """y = silu(x W + b). x: [B, d_in]; W: [d_in, d_out]; b: [d_out]; returns y: [B, d_out]"""
    h = x @ W + b
    return h * _sigmoid(h)


def numerical_gradient(f, a, eps=1e-6):
    """Central finite differences of a scalar function f at the array a (a is restored).

    f: callable () -> float, reading a; a: any shape; returns an array shaped like a.
    """
    grad = np.zeros_like(a, dtype=float)
    for i in np.ndindex(a.shape):
        saved = a[i]
        a[i] = saved + eps
        up = f()
        a[i] = saved - eps
        down = f()
        a[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad


def _finite_difference_grads(x, W, b, d_y):
    """(d_x, d_W, d_b) of L = sum(d_y * silu(x W + b)) by central differences."""
    x, W, b = (np.array(a, dtype=float) for a in (x, W, b))  # copies, perturbed in place
    loss = lambda: float(np.sum(d_y * linear_silu_forward(x, W, b)))  # noqa: E731
    return tuple(numerical_gradient(loss, a) for a in (x, W, b))


def _backward_variant(d_act=lambda h, s, y: s * (1 + h * (1 - s)), at_output=False, d_x_uses_W=False,
                      transpose_d_W=False, d_b="sum", scale=1.0):
    """The analytic backward pass with one part changed, for recognising mistakes."""
    def answer(x, W, b, d_y):
        h = x @ W + b
        y = h * _sigmoid(h)
        z = y if at_output else h
        d_h = d_y * d_act(z, _sigmoid(z), y)
        d_x = d_h @ W if d_x_uses_W else d_h @ W.T
        d_W = x.T @ d_h
        db = {"sum": d_h.sum(axis=0), "mean": d_h.mean(axis=0), "none": d_h}[d_b]
        return scale * d_x, scale * (d_W.T if transpose_d_W else d_W), scale * db
    return answer


def _mean_over_batch(x, W, b, d_y):
    d_x, d_W, d_b = _backward_variant()(x, W, b, d_y)
    return d_x, d_W / len(x), d_b / len(x)


def _matmul_hint(exc, frames):
    """A hint for a matrix product with mismatched shapes: which transpose is missing.

    NumPy's matmul raises ValueError("matmul: Input operand ... mismatch ..."); the
    student's line that raised says which gradient was being computed.
    """
    if not isinstance(exc, ValueError) or "matmul" not in str(exc) and "not aligned" not in str(exc):
        return None
    line = frames[-1].line if frames else ""
    shapes = "(x: [B, d_in], W: [d_in, d_out], d_h: [B, d_out])"
    if "d_x" in line:
        return f"check the transpose of W in d_x: d_x = d_h W^T, i.e. d_h @ W.T {shapes}."
    if "d_W" in line:
        return f"check the transpose of x in d_W: d_W = x^T d_h, i.e. x.T @ d_h {shapes}."
    return f"a matrix product got mismatched shapes: check which factor needs a transpose {shapes}."


def check_linear_silu_backward(linear_silu_backward, quiet=False, seed=None, time_limit=TIME_LIMIT):
    """Check ``linear_silu_backward(x, W, b, d_y) -> (d_x, d_W, d_b)`` by finite differences.

    Cases: rectangular and square W (a square W hides a transposition from the shapes),
    a batch of one, one input and one output, and pre-activations up to |h| ~ 40 where
    the sigmoid saturates. A matrix product with mismatched shapes in the student's code gets
    a hint about the transpose it is missing.
    seed=None runs the cases a class sees; an int runs other random inputs and shapes (for
    hidden grading tests). ``time_limit``: seconds the function may take over all cases.
    """
    rng = case_rng(seed, 7)
    cases = []
    for label, (batch, d_in, d_out, scale) in {
        "rectangular W": (4, 3, 5, 1.0), "square W": (5, 4, 4, 1.0), "batch of one": (1, 2, 3, 1.0),
        "one input, one output": (3, 1, 1, 1.0), "saturated sigmoid (|h| up to ~40)": (4, 3, 2, 12.0),
        "random shapes": (int(rng.integers(2, 6)), int(rng.integers(2, 6)), int(rng.integers(2, 6)), 1.0),
    }.items():
        x = scale * rng.standard_normal((batch, d_in))
        W = rng.standard_normal((d_in, d_out))
        b = rng.standard_normal(d_out)
        d_y = rng.standard_normal((batch, d_out))
        cases.append(Case(label, (x, W, b, d_y), _finite_difference_grads(x, W, b, d_y),
                          dict(x=x, W=W, b=b, d_y=d_y)))
    mistakes = [
        Mistake("d_W must have the shape of W, [d_in, d_out]: d_W = x^T d_h. You returned its "
                "transpose d_h^T x.", _backward_variant(transpose_d_W=True)),
        Mistake("the gradient flows back through W transposed: d_x = d_h W^T, not d_h W.",
                _backward_variant(d_x_uses_W=True)),
        Mistake("silu'(h) is not sigmoid(h): d/dh [h sigmoid(h)] = sigmoid(h) (1 + h (1 - sigmoid(h))).",
                _backward_variant(d_act=lambda h, s, y: s)),
        Mistake("sigmoid(h)(1 - sigmoid(h)) is the derivative of the sigmoid; SiLU's is "
                "sigmoid(h) (1 + h (1 - sigmoid(h))).", _backward_variant(d_act=lambda h, s, y: s * (1 - s))),
        Mistake("chain rule: multiply d_y by the activation's derivative silu'(h) before going back "
                "through the linear map (d_h = d_y * silu'(h)).", _backward_variant(d_act=lambda h, s, y: 1.0)),
        Mistake("evaluate silu' at the pre-activation h = x W + b, not at the output y.",
                _backward_variant(at_output=True)),
        Mistake("b is added to every row of the batch, so d_b sums d_h over the batch axis: "
                "d_b = d_h.sum(axis=0), shape [d_out].", _backward_variant(d_b="none")),
        Mistake("d_b is the SUM of d_h over the batch (each row contributes to the loss), not the mean.",
                _backward_variant(d_b="mean")),
        Mistake("the loss is sum(d_y * y): no 1 / batch factor in d_W or d_b; the gradients sum over rows.",
                _mean_over_batch),
        Mistake("wrong sign: these are gradients of the loss, d_x = +dL/dx; the descent step's minus sign "
                "belongs to the optimiser.", _backward_variant(scale=-1.0)),
    ]
    result = run_cases("check_linear_silu_backward", linear_silu_backward, cases, mistakes,
                       outputs=("d_x", "d_W", "d_b"), rtol=1e-5, atol=1e-7, diagnose_error=_matmul_hint,
                       time_limit=time_limit,
                       summary=" (finite differences; rectangular and square W, batch of one, "
                               "saturated sigmoid)")
    return report(result, quiet)
