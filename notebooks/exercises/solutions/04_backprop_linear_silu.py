"""Reference solution of exercise 4 (notebooks/exercises/04_backprop_linear_silu.ipynb)."""

import numpy as np


def linear_silu_backward(x, W, b, d_y):
    """Gradients of L with respect to x, W, b given d_y = dL/dy, for y = silu(x W + b).

    x: [B, d_in]; W: [d_in, d_out]; b: [d_out]; d_y: [B, d_out]
    returns d_x: [B, d_in], d_W: [d_in, d_out], d_b: [d_out]
    """
    h = x @ W + b  # forward again: the backward pass needs the pre-activation
    s = 0.5 * (1.0 + np.tanh(0.5 * h))  # sigmoid(h), without overflow for large |h|
    d_h = d_y * s * (1.0 + h * (1.0 - s))  # silu'(h) = sigmoid(h) (1 + h (1 - sigmoid(h)))
    d_x = d_h @ W.T  # h = x W: the gradient goes back through W transposed
    d_W = x.T @ d_h  # one outer product per row, summed over the batch
    d_b = d_h.sum(axis=0)  # b is broadcast over the batch
    return d_x, d_W, d_b
