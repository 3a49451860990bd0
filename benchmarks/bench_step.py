"""Time one consistency-training step of the NumPy MLP, and the same step in PyTorch eager mode.

One step = forward of the target network (no cache kept) + forward and backward of the
online network through a squared-error loss + one Adam update + one EMA update of the
target, at batch 256, depth 3, float64, one BLAS thread. When ``torch`` is importable the
same step runs in PyTorch (same layers and time embedding, float64, one thread,
``torch.optim.Adam``, EMA by ``torch._foreach_lerp_``) and the ratio NumPy / PyTorch is
printed. A last column times the NumPy step with ``MLPConfig(dtype="float32")``, the
option for faster training; it is not part of the float64 comparison. The output is a
Markdown table ready for the README.

Run from the repository root:

    PYTHONPATH=. python benchmarks/bench_step.py [--steps 300] [--widths 32 64 128]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time

import numpy as np
from scipy.special import expit
from threadpoolctl import threadpool_limits

from cmtoy.mlp import MLPConfig, Params, backward, forward, init_params
from cmtoy.optim import AdamConfig, AdamState, adam_step, ema_update

BATCH, DEPTH, LR, EMA_DECAY = 256, 3, 1e-4, 0.999


def batches(rng, n):
    """n batches of (t, x, t_target, x_target), each [BATCH], drawn up front."""
    t = rng.uniform(0.0, 1.0, (n, BATCH))
    x = rng.standard_normal((n, BATCH))
    return t, x, np.minimum(t + 0.01, 1.0), x + 0.01 * rng.standard_normal((n, BATCH))


def numpy_step(width, dtype="float64"):
    config = MLPConfig(width=width, depth=DEPTH, dtype=dtype)
    online = init_params(config, np.random.default_rng(0))
    target = online.copy()
    grads = Params(config)
    state, adam = AdamState.zeros(config.n_params, online.flat.dtype), AdamConfig()

    def step(t, x, t_target, x_target):
        target_out, _ = forward(target, t_target, x_target)
        out, cache = forward(online, t, x)
        d_out = (out - target_out) * (2.0 / BATCH)  # L = mean (F - F_target)^2
        backward(online, cache, d_out, out=grads)
        adam_step(online.flat, grads.flat, state, LR, adam)
        ema_update(target.flat, online.flat, EMA_DECAY)

    return step


def kernel_floor(width):
    """Only the kernels a NumPy step cannot avoid: its matrix products and its 2 x depth
    sigmoids (each one float64 exp per hidden unit and sample), on random data."""
    config = MLPConfig(width=width, depth=DEPTH)
    W = init_params(config, np.random.default_rng(0)).W
    rng = np.random.default_rng(1)
    h_0, d_out = rng.standard_normal((BATCH, config.n_inputs)), rng.standard_normal((BATCH, 1))

    def step(*_):
        for network in ("target", "online"):
            hs = [h_0]
            for W_l in W[:-1]:
                z = hs[-1] @ W_l
                expit(z, out=z)
                hs.append(z)
            hs[-1] @ W[-1]
        d_z = d_out
        for layer in reversed(range(len(W))):
            hs[layer].T @ d_z  # dW
            if layer:
                d_z = d_z @ W[layer].T  # dh

    return step


def torch_step(width):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    frequencies = torch.pi * torch.arange(1, 17, dtype=torch.float64)

    def make_network():
        sizes = [2 + 2 * len(frequencies)] + [width] * DEPTH
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(fan_in, fan_out, dtype=torch.float64), torch.nn.SiLU()]
        return torch.nn.Sequential(*layers, torch.nn.Linear(width, 1, dtype=torch.float64))

    def apply(network, t, x):
        angle = t[:, None] * frequencies
        h = torch.cat([x[:, None], t[:, None], torch.sin(angle), torch.cos(angle)], dim=1)
        return network(h)[:, 0]

    online = make_network()
    target = make_network()
    target.load_state_dict(online.state_dict())
    target.requires_grad_(False)
    optimizer = torch.optim.Adam(online.parameters(), lr=LR)
    online_params, target_params = list(online.parameters()), list(target.parameters())

    def step(t, x, t_target, x_target):
        t, x, t_target, x_target = (torch.from_numpy(a) for a in (t, x, t_target, x_target))
        with torch.no_grad():
            target_out = apply(target, t_target, x_target)
        loss = torch.mean((apply(online, t, x) - target_out) ** 2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            torch._foreach_lerp_(target_params, online_params, 1.0 - EMA_DECAY)

    return step


def run(steps_by_name, n_steps, data, block=5, clock=time.process_time):
    """Times of one step, in seconds: {name: (median, 10th percentile)}.

    The clock is this process's CPU time, not wall time: on a shared machine, time spent
    waiting for a core while another process runs is not counted (its cache pollution is).

    The functions take turns in blocks of ``block`` steps, so that a load that varies over
    the run (other processes on a shared machine) affects all of them alike; the 10th
    percentile shows what an unloaded machine would see. Each first runs 20 untimed
    warm-up steps.
    """
    for step in steps_by_name.values():
        for i in range(20):
            step(*(a[i] for a in data))
    times = {name: [] for name in steps_by_name}
    for start in range(0, n_steps, block):
        for name, step in steps_by_name.items():
            for i in range(start, min(start + block, n_steps)):
                begin = clock()
                step(*(a[i] for a in data))
                times[name].append(clock() - begin)
    return {name: (float(np.median(t)), float(np.percentile(t, 10))) for name, t in times.items()}


def machine():
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per setting")
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128])
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    data = batches(np.random.default_rng(0), max(args.steps, 20))

    rows = []
    with threadpool_limits(1):
        for width in args.widths:
            steps = {"numpy": numpy_step(width), "floor": kernel_floor(width), "float32": numpy_step(width, "float32")}
            if torch is not None:
                steps["torch"] = torch_step(width)
            times = run(steps, args.steps, data)
            rows.append((width, times["numpy"], times["floor"], times.get("torch"), times["float32"]))

    print(f"Machine: {machine()}" + (f", PyTorch {torch.__version__}" if torch else ", PyTorch not installed"))
    print(f"One training step, batch {BATCH}, depth {DEPTH}, float64, 1 thread, median of {args.steps} steps "
          f"(last column: ratio of the 10th percentiles):\n")
    print("| width | NumPy (ms) | of which matmul + exp (ms) | PyTorch eager (ms) | NumPy / PyTorch "
          "| same, fastest 10% | NumPy float32 (ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for width, (numpy_time, numpy_fast), (floor_time, _), torch_times, (single_time, _) in rows:
        cells = [f"{width}", f"{1e3 * numpy_time:.3f}", f"{1e3 * floor_time:.3f}"]
        if torch_times is None:
            cells += ["n/a", "n/a", "n/a"]
        else:
            torch_time, torch_fast = torch_times
            cells += [f"{1e3 * torch_time:.3f}", f"{numpy_time / torch_time:.2f}", f"{numpy_fast / torch_fast:.2f}"]
        cells.append(f"{1e3 * single_time:.3f}")
        print("| " + " | ".join(cells) + " |")
    print(
        "\n'matmul + exp': the same step's matrix products and sigmoids alone (kernel_floor), "
        "the part no NumPy code can avoid; NumPy's float64 exp is vectorised only with AVX-512."
    )
    print("\nRerun: PYTHONPATH=. python benchmarks/bench_step.py")


if __name__ == "__main__":
    main()
