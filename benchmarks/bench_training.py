"""Quality per wall time of CT, CD and iCT on the seed mixture and a harder mixture.

Prints Markdown tables for the README:

1. each method with its DEFAULT TrainConfig: steps, wall time, 1- and 2-step W1
   (100,000 samples, exact W1 to the target CDF), flow-map error, against the targets
   cd <= 0.03, ct <= 0.05, ict <= 0.08 (1-step) and 2-step < 1-step;
2. W1 after a wall-time budget of 5, 15 and 60 s per method: the step rate is measured
   with two short probe runs (their difference leaves out start-up costs), and the run
   uses that many steps (so each run is deterministic
   for its step count; the cosine learning-rate decay ends at the budget);
3. an ablation of iCT's changes (Song & Dhariwal 2023), each switched back to CT's choice
   one at a time, and each added to CT one at a time, at the same step count (every other
   setting stays at the default of the row's base method: ict or ct);
4. tables 1 and 3 on a harder mixture with three unequal components;
5. ("seeds") table 1's default runs again with other seeds, to show the spread;
6. ("baseline") what the network itself can do in the same time: the same network,
   batch, optimiser, learning-rate schedule and step count as ct's default, fitted by
   plain regression to the exact f*(t, x_t) (which only a 1-D explorer can compute);
7. ("longer") each method's default TrainConfig with --multiples (default 1, 2, 4) times
   its default step count, and nothing else changed (the curriculum and the cosine decay
   stretch with it), at --seeds: does more time help?

Run from the repository root:

    python benchmarks/bench_training.py                  # the default parts (the longest run)
    python benchmarks/bench_training.py --parts defaults budgets
    python benchmarks/bench_training.py --parts seeds --seeds 1 2
    python benchmarks/bench_training.py --parts defaults hard --methods cd
    python benchmarks/bench_training.py --parts longer --methods ct --seeds 0 1
    python benchmarks/bench_training.py --quick          # short smoke run of every part

Timings depend on the load of the machine; the machine and its load are printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.dirname(__file__))

from bench_exact import machine as describe_machine  # noqa: E402

import cmtoy  # noqa: E402
from cmtoy.interpolant import Interpolant  # noqa: E402
from cmtoy.metrics import flow_map_error, wasserstein1  # noqa: E402
from cmtoy.sampling import sample  # noqa: E402
from cmtoy import optim  # noqa: E402
from cmtoy.consistency import ConsistencyModel  # noqa: E402
from cmtoy.optim import learning_rates  # noqa: E402
from cmtoy.training import METHODS, TrainConfig, train  # noqa: E402

TARGETS = {"cd": 0.03, "ct": 0.05, "ict": 0.08, "sct": 0.03, "scd": 0.015}
HARD = cmtoy.GaussianMixture(means=[-2.0, 0.3, 3.0], stds=[0.2, 0.05, 0.7], weights=[0.5, 0.2, 0.3])
N_SAMPLES = 100_000

# iCT's changes (Song & Dhariwal 2023) as TrainConfig overrides: (label, iCT's choice, the alternative)
CHANGES = [
    ("no EMA target", dict(ema=0.0), "EMA target 0.9", dict(ema=0.9)),
    ("pseudo-Huber", dict(distance="pseudo_huber"), "squared distance", dict(distance="squared")),
    ("1/dt weighting", dict(weighting="inverse_dt"), "uniform weighting", dict(weighting="uniform")),
    ("log-normal t", dict(time_distribution="lognormal"), "uniform t", dict(time_distribution="uniform")),
    ("doubling curriculum", dict(curriculum="doubling"), "sqrt curriculum (Song et al. 2023)", dict(curriculum="sqrt")),
]


def machine():
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{describe_machine()}, load average {load:.1f} at start"


def score(model, interp, seed=0):
    """1-step W1, 2-step W1 at times (1, 0.5) and (1, 0.3) (N_SAMPLES samples), flow-map error."""
    rng = np.random.default_rng([seed, 7])
    w1 = lambda times: wasserstein1(sample(model, rng, N_SAMPLES, times=times), interp.target)  # noqa: E731
    return w1((1.0,)), w1((1.0, 0.5)), w1((1.0, 0.3)), flow_map_error(model, interp, n=20_000)


def run(interp, config):
    """Train (no progress bar, one evaluation at the end) and score. -> dict"""
    config = dataclasses.replace(config, progress=False, eval_samples=1000)
    start = time.perf_counter()
    model, history = train(interp, config)
    seconds = time.perf_counter() - start
    w1, w1_2, w1_2b, fme = score(model, interp)
    return dict(steps=history["steps_done"], seconds=seconds, w1=w1, w1_2=w1_2, w1_2b=w1_2b, fme=fme)


def default_config(method, steps=None, **settings):
    """The method's default TrainConfig, with ``steps`` steps if given (the --quick runs)."""
    return TrainConfig(method=method, **settings, **({} if steps is None else {"steps": steps}))


def steps_per_second(interp, method, probe_steps):
    """Steps per second of a method's training loop, without its start-up and final evaluation:
    the difference of a run of probe_steps and one of probe_steps // 5."""
    seconds = []
    for steps in (probe_steps // 5, probe_steps):
        start = time.perf_counter()
        train(interp, TrainConfig(method=method, steps=steps, progress=False, eval_samples=100))
        seconds.append(time.perf_counter() - start)
    return (probe_steps - probe_steps // 5) / max(seconds[1] - seconds[0], 1e-9)


def print_row(*cells):
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def defaults_table(interp, name, steps=None, targets=True, methods=METHODS):
    """One row per method with its default TrainConfig; the targets hold for the seed mixture only."""
    print(f"\n### {name}: each method with its default TrainConfig\n")
    header = ["method", "steps", "wall (s)", "1-step W1", "2-step W1 (1, 0.5)", "2-step W1 (1, 0.3)", "flow-map error"]
    print_row(*header, *(["target (1-step)"] if targets else []))
    print_row(*["---"] * (len(header) + targets))
    for method in methods:
        config = default_config(method, steps)
        r = run(interp, config)
        target = [f"<= {TARGETS[method]} ({'met' if r['w1'] <= TARGETS[method] else 'MISSED'})"] if targets else []
        print_row(method, r["steps"], f"{r['seconds']:.0f}", f"{r['w1']:.4f}", f"{r['w1_2']:.4f}",
                  f"{r['w1_2b']:.4f}", f"{r['fme']:.4f}", *target)


def runs_table(interp, title, seeds, multiples=(1.0,), steps=None, methods=METHODS):
    """Each method's default run at other seeds, and stretched to multiples of its step count."""
    print(f"\n### {title}\n")
    print_row("method", "seed", "steps", "wall (s)", "1-step W1", "2-step W1 (1, 0.5)", "2-step W1 (1, 0.3)",
              "flow-map error")
    print_row(*["---"] * 8)
    for method in methods:
        base = default_config(method, steps).resolved().steps
        for seed in seeds:
            for multiple in multiples:
                r = run(interp, default_config(method, int(round(multiple * base)), seed=seed))
                print_row(method, seed, r["steps"], f"{r['seconds']:.0f}", f"{r['w1']:.4f}", f"{r['w1_2']:.4f}",
                          f"{r['w1_2b']:.4f}", f"{r['fme']:.4f}")


def budgets_table(interp, budgets, probe_steps, methods=METHODS):
    print("\n### W1 after a wall-time budget (steps calibrated by a probe run)\n")
    print_row("method", *[f"{b:g} s: steps / 1-step / best 2-step" for b in budgets])
    print_row(*["---"] * (1 + len(budgets)))
    for method in methods:
        rate = steps_per_second(interp, method, probe_steps)
        cells = []
        for budget in budgets:
            r = run(interp, TrainConfig(method=method, steps=max(50, int(rate * budget))))
            cells.append(f"{r['steps']} / {r['w1']:.3f} / {min(r['w1_2'], r['w1_2b']):.3f}")
        print_row(method, *cells)


def ablation_table(interp, name, steps, seeds):
    print(f"\n### {name}: iCT's changes one at a time ({steps} steps, mean over seeds {list(seeds)})\n")
    print_row("variant", "1-step W1", "2-step W1 (1, 0.5)", "2-step W1 (1, 0.3)", "flow-map error")
    print_row(*["---"] * 5)
    ct_defaults = TrainConfig(method="ct").resolved()
    variants = [("ict (all changes)", dict(method="ict")), ("ct (EMA, squared, uniform)", dict(method="ct"))]
    variants += [(f"ict with {alt_label}", dict(method="ict", **alt)) for _, _, alt_label, alt in CHANGES]
    for label, ict, alt_label, alt in CHANGES:
        if all(getattr(ct_defaults, key) == value for key, value in ict.items()):  # CT has it already
            variants.append((f"ct with {alt_label}", dict(method="ct", **alt)))
        else:
            variants.append((f"ct with {label}", dict(method="ct", **ict)))
    for label, overrides in variants:
        runs = [run(interp, TrainConfig(steps=steps, seed=seed, **overrides)) for seed in seeds]
        cell = lambda key: f"{np.mean([r[key] for r in runs]):.3f} ({min(r[key] for r in runs):.3f}-{max(r[key] for r in runs):.3f})"  # noqa: E731
        print_row(label, cell("w1"), cell("w1_2"), cell("w1_2b"), cell("fme"))


def regression_baseline(interp, config, pool=2_000_000):
    """Fit f_theta to the exact f* by least squares, with config's network, batch, steps, lr.

    The points (t ~ U[0, 1], x_t ~ p_t) and their f*(t, x_t) are drawn once (a pool of
    ``pool``, not timed); each step takes a batch of them at random. -> (model, seconds)
    """
    from threadpoolctl import threadpool_limits

    config = config.resolved()
    rng = np.random.default_rng(config.seed)
    t = rng.uniform(size=pool)
    x = interp.sample(rng, pool, t)
    f_star = interp.consistency_function(t, x)
    model = ConsistencyModel.initialise(interp, config.mlp, rng)
    params = model.params
    adam = optim.AdamState.zeros(params.flat.size, params.flat.dtype)
    lrs = learning_rates(config)
    start = time.perf_counter()
    with threadpool_limits(1):
        for k in range(config.steps):
            i = rng.integers(0, pool, config.batch)
            f, cache = model.forward(params, t[i], x[i])
            grads = model.backward(params, cache, 2.0 * (f - f_star[i]) / config.batch)
            optim.adam_step(params.flat, grads.flat, adam, lrs[k])
    return model, time.perf_counter() - start


def baseline_table(interps, steps=None):
    print("\n### Regression to the exact f* with ct's network, batch, optimiser and step count\n")
    print_row("mixture", "steps", "wall (s)", "1-step W1", "2-step W1 (1, 0.5)", "2-step W1 (1, 0.3)", "flow-map error")
    print_row(*["---"] * 7)
    for name, interp in interps:
        config = default_config("ct", steps).resolved()
        model, seconds = regression_baseline(interp, config)
        w1, w1_2, w1_2b, fme = score(model, interp)
        print_row(name, config.steps, f"{seconds:.0f}", f"{w1:.4f}", f"{w1_2:.4f}", f"{w1_2b:.4f}", f"{fme:.4f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+", default=["defaults", "budgets", "ablation", "hard"],
                        choices=["defaults", "budgets", "ablation", "hard", "seeds", "baseline", "longer"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="seeds of the 'seeds' and 'longer' parts")
    parser.add_argument("--multiples", type=float, nargs="+", default=[1.0, 2.0, 4.0],
                        help="multiples of the default step count in the 'longer' part")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                        help="methods of the defaults, budgets, seeds and hard tables (the ablations need ct and ict)")
    parser.add_argument("--budgets", type=float, nargs="+", default=[5.0, 15.0, 60.0])
    parser.add_argument("--ablation-steps", type=int, default=10_000)
    parser.add_argument("--ablation-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--quick", action="store_true", help="tiny runs: checks the script, not the numbers")
    args = parser.parse_args(argv)
    seed_interp, hard_interp = Interpolant(cmtoy.SEED_MIXTURE), Interpolant(HARD)
    steps = 300 if args.quick else None
    ablation_steps = 300 if args.quick else args.ablation_steps
    budgets = [0.5, 1.0] if args.quick else args.budgets
    print(f"Machine: {machine()}")
    print(f"Rerun: python benchmarks/bench_training.py --parts {' '.join(args.parts)} "
          f"--ablation-steps {args.ablation_steps} --ablation-seeds {' '.join(map(str, args.ablation_seeds))}"
          + (f" --seeds {' '.join(map(str, args.seeds))}" if {"seeds", "longer"} & set(args.parts) else "")
          + (f" --multiples {' '.join(f'{m:g}' for m in args.multiples)}" if "longer" in args.parts else "")
          + (f" --methods {' '.join(args.methods)}" if list(args.methods) != list(METHODS) else "")
          + (" --quick" if args.quick else ""))
    if "defaults" in args.parts:
        defaults_table(seed_interp, "Seed mixture (means -1, 2; stds 0.1; weights 0.8, 0.2), linear schedule", steps,
                       methods=args.methods)
    if "budgets" in args.parts:
        budgets_table(seed_interp, budgets, 100 if args.quick else 500, args.methods)
    if "seeds" in args.parts:
        runs_table(seed_interp, f"Seed mixture: each method's default TrainConfig with seeds {args.seeds}",
                   args.seeds, steps=steps, methods=args.methods)
    ablations = {"ct", "ict"} <= set(args.methods)
    if not ablations and {"ablation", "hard"} & set(args.parts):
        print("\n(the ablations compare ct and ict: skipped, as --methods leaves one of them out)")
    if "ablation" in args.parts and ablations:
        ablation_table(seed_interp, "Seed mixture", ablation_steps, args.ablation_seeds)
    if "hard" in args.parts:
        label = "Three unequal components (means -2, 0.3, 3; stds 0.2, 0.05, 0.7; weights 0.5, 0.2, 0.3)"
        defaults_table(hard_interp, label, steps, targets=False, methods=args.methods)
        if ablations:
            ablation_table(hard_interp, "Three unequal components", ablation_steps, args.ablation_seeds)
    if "longer" in args.parts:
        times = ", ".join(f"{m:g}" for m in args.multiples)
        runs_table(seed_interp, f"Seed mixture: each method's default TrainConfig with {times} x its steps, "
                   f"seeds {args.seeds}", args.seeds, args.multiples, steps, args.methods)
    if "baseline" in args.parts:
        baseline_table([("seed", seed_interp), ("three unequal components", hard_interp)], steps)


if __name__ == "__main__":
    main()
