"""Continuous-time consistency (sct, scd): quality per time, seeds, mixtures, stabilisers, bias.

Prints Markdown tables for benchmarks/README.md ("Continuous time"):

1. ("seeds") sct and scd with their DEFAULT TrainConfig at each of --seeds: steps, wall
   time, 1- and 2-step W1 (100,000 samples, exact W1), flow-map error, and the mean over
   the seeds, against the targets (sct <= 0.03 at seed 0 and as the mean of seeds 0-4,
   2-step better than 1-step; scd <= 0.015);
2. ("diverge") sct's default run at --diverge-seeds: does any diverge?
3. ("budgets") W1 after a wall-time budget of 5, 15 and 60 s (bench_training's method:
   steps calibrated by probe runs, the cosine decay ends at the budget);
4. ("mixtures") the default runs on the harder mixture of bench_training.py and on a
   mixture the defaults were not tuned on, in units of each mixture's sigma_d;
5. ("ablation") each stabiliser of sct switched off (or changed) alone, at --ablation-seeds,
   and ("paper") Lu & Song's own three choices together;
6. ("tuning") what else was tried against the targets that the defaults miss, each change
   alone at --seeds (the mean is what the targets ask for): more steps, a larger batch,
   other learning rates, an EMA of the weights for sampling, the time distribution in
   units of sigma_d, the tangent in cmtoy's own time;
7. ("trace") the 1-step W1 during one default run of each method (the history's
   evaluations every tenth of the run, 100,000 samples): how it swings while the learning
   rate is high and settles as the cosine decay ends;
8. ("bias") the gradient error of sct (with the pair's v_hat and with the batch's velocity)
   and of discrete ct against scd at fixed weights, with
   the fitted slopes (cmtoy.gradient_bias), and what the tangent normalisation's
   nonlinearity costs: the same comparison with g / (|g| + c) applied to both.

Run from the repository root (a machine running other jobs makes the times longer):

    python benchmarks/bench_continuous.py                       # every part
    python benchmarks/bench_continuous.py --parts seeds --seeds 0 1 2 3 4
    python benchmarks/bench_continuous.py --parts ablation --ablation-seeds 0 1
    python benchmarks/bench_continuous.py --parts tuning --seeds 0 1 2 3 4
    python benchmarks/bench_continuous.py --quick               # short smoke run of every part
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.dirname(__file__))

from bench_training import HARD, budgets_table, machine, print_row, run  # noqa: E402

import cmtoy  # noqa: E402
from cmtoy.consistency import ConsistencyModel  # noqa: E402
from cmtoy.continuous import continuous_gradient  # noqa: E402
from cmtoy.gradient_bias import gradient_bias  # noqa: E402
from cmtoy.interpolant import Interpolant  # noqa: E402
from cmtoy.mlp import MLPConfig  # noqa: E402
from cmtoy.training import TrainConfig, train  # noqa: E402

METHODS = ("sct", "scd")
TARGETS = {"sct": 0.03, "scd": 0.015}  # 1-step W1 on the seed mixture (sigma_d units: / 1.2)
# a mixture nobody tuned on: four components, one narrow and one wide
UNTUNED = cmtoy.GaussianMixture(means=[-3.0, -0.5, 1.0, 4.0], stds=[0.3, 0.05, 0.4, 1.0],
                                weights=[0.15, 0.35, 0.3, 0.2])


def stabilisers(base):
    """(label, TrainConfig overrides) switching one stabiliser of ``base`` off or back, each alone."""
    flip = lambda value, a, b: b if value == a else a  # noqa: E731
    return [
        ("parametrisation " + flip(base.parametrisation, "trigflow", "time"),
         dict(parametrisation=flip(base.parametrisation, "trigflow", "time"))),
        (f"tangent normalisation c = {0.1 if base.tangent_norm == 0 else 0}",
         dict(tangent_norm=0.1 if base.tangent_norm == 0 else 0.0)),
        ("no tangent warm-up" if base.tangent_warmup else "tangent warm-up 20%",
         dict(tangent_warmup=0 if base.tangent_warmup else base.steps // 5)),
        ("adaptive weight " + ("off" if base.adaptive_weight else "on"), dict(adaptive_weight=not base.adaptive_weight)),
        ("time distribution " + flip(base.time_distribution, "lognormal", "uniform"),
         dict(time_distribution=flip(base.time_distribution, "lognormal", "uniform"))),
        ("time embedding of 16 frequencies", dict(mlp=dataclasses.replace(base.mlp, n_fourier=16))),
        ("batches " + flip(base.sampling, "qmc", "iid"), dict(sampling=flip(base.sampling, "qmc", "iid"))),
        ("EMA target 0.9 (theta- != theta)", dict(ema=0.9)),
        ("velocity " + flip(base.velocity_estimate, "batch", "conditional")
         + (" (the pair's v_hat, as in the paper)" if base.velocity_estimate == "batch" else " (of the batch's data)"),
         dict(velocity_estimate=flip(base.velocity_estimate, "batch", "conditional"))),
        ("Lu & Song's recipe with the batch's velocity (trigflow, c = 0.1, adaptive weight)",
         dict(parametrisation="trigflow", tangent_norm=0.1, adaptive_weight=True)),
    ]


def result_row(label, r, sigma_d=None):
    cells = [f"{r['w1']:.4f}", f"{r['w1_2']:.4f}", f"{r['fme']:.4f}"]
    if sigma_d is not None:
        cells += [f"{r['w1'] / sigma_d:.4f}", f"{r['w1_2'] / sigma_d:.4f}"]
    print_row(*label, r["steps"], f"{r['seconds']:.0f}", *cells)


def train_or_diverge(interp, config):
    try:
        return run(interp, config)
    except FloatingPointError as error:
        return dict(steps="-", seconds=float("nan"), w1=float("nan"), w1_2=float("nan"), fme=float("nan"),
                    diverged=str(error).split(":")[0])


def seeds_table(interp, seeds, steps, methods=METHODS):
    print("\n### Seed mixture: sct and scd with their default TrainConfig\n")
    print_row("method", "seed", "steps", "wall (s)", "1-step W1", "2-step W1 (1, 0.5)", "flow-map error")
    print_row(*["---"] * 7)
    for method in methods:
        results = [train_or_diverge(interp, TrainConfig(method=method, seed=seed, steps=steps)) for seed in seeds]
        for seed, r in zip(seeds, results):
            result_row((method, seed), r)
        mean = {key: float(np.mean([r[key] for r in results])) for key in ("w1", "w1_2", "fme")}
        print_row(method, "mean", "", "", f"{mean['w1']:.4f}", f"{mean['w1_2']:.4f}", f"{mean['fme']:.4f}")
        print(f"\n{method}: target 1-step W1 <= {TARGETS[method]}: seed {seeds[0]} "
              f"{'met' if results[0]['w1'] <= TARGETS[method] else 'MISSED'} ({results[0]['w1']:.4f}), "
              f"mean {'met' if mean['w1'] <= TARGETS[method] else 'MISSED'} ({mean['w1']:.4f}); 2-step better "
              f"than 1-step at {sum(r['w1_2'] < r['w1'] for r in results)} of {len(results)} seeds\n")


def diverge_table(interp, seeds, steps):
    print("\n### sct's default run at more seeds: does any diverge?\n")
    print_row("seed", "steps", "wall (s)", "1-step W1", "2-step W1 (1, 0.5)", "flow-map error", "diverged")
    print_row(*["---"] * 7)
    for seed in seeds:
        r = train_or_diverge(interp, TrainConfig(method="sct", seed=seed, steps=steps))
        print_row(seed, r["steps"], f"{r['seconds']:.0f}", f"{r['w1']:.4f}", f"{r['w1_2']:.4f}", f"{r['fme']:.4f}",
                  r.get("diverged", "no"))


def mixtures_table(steps, methods=METHODS):
    print("\n### Other mixtures, in units of their sigma_d (seed mixture targets: sct 0.025, scd 0.0125)\n")
    print_row("mixture", "method", "steps", "wall (s)", "1-step W1", "2-step W1 (1, 0.5)", "flow-map error",
              "1-step W1 / sigma_d", "2-step W1 / sigma_d")
    print_row(*["---"] * 9)
    for name, mix in (("seed", cmtoy.SEED_MIXTURE), ("harder (bench_training.HARD)", HARD), ("untuned", UNTUNED)):
        for method in methods:
            r = train_or_diverge(Interpolant(mix), TrainConfig(method=method, steps=steps))
            result_row((name, method), r, float(np.sqrt(mix.var)))


# Lu & Song 2024's own choices, all at once: their tangent weight cos(tau), the tangent
# normalisation c = 0.1 and the adaptive weight (the rest as sct's defaults)
PAPER = dict(parametrisation="trigflow", tangent_norm=0.1, adaptive_weight=True, velocity_estimate="conditional")


def ablation_table(interp, seeds, steps, changes=None):
    base = TrainConfig(method="sct", steps=steps).resolved()
    print("\n### Seed mixture: sct with one stabiliser switched, each alone\n")
    print_row("change", "seed", "steps", "wall (s)", "1-step W1", "2-step W1 (1, 0.5)", "flow-map error")
    print_row(*["---"] * 7)
    changes = [("(default)", {}), *stabilisers(base)] if changes is None else changes
    for label, change in changes:
        for seed in seeds:
            r = train_or_diverge(interp, TrainConfig(method="sct", seed=seed, steps=steps, **change))
            print_row(label, seed, r["steps"], f"{r['seconds']:.0f}",
                      *((f"{r['w1']:.4f}", f"{r['w1_2']:.4f}", f"{r['fme']:.4f}") if "diverged" not in r
                        else ("diverged", "", "")))


# what else was tried: (method, label, TrainConfig overrides), each alone from the default
# (whose rows are the "seeds" part's)
# what was tried on sct with the pair's own velocity v_hat and no tangent normalisation,
# before the batch's velocity and c = 0.1 became its default: each row keeps them, so it
# reruns as it ran
PAIR = dict(velocity_estimate="conditional", tangent_norm=0.0)
TUNING = [
    ("sct", "50,000 steps", dict(PAIR, steps=50_000)),
    ("sct", "batch 512, 32,000 steps (about the same time)", dict(PAIR, batch=512, steps=32_000)),
    ("sct", "batch 512, 32,000 steps, lr 2.5e-3", dict(PAIR, batch=512, steps=32_000, lr=2.5e-3)),
    ("sct", "lr 1e-3", dict(PAIR, lr=1e-3)),
    ("sct", "EMA of the weights for sampling, 0.999", dict(PAIR, eval_ema=0.999)),
    # Lu & Song's P_mean = -1 is for data of std 0.5: the same in units of this sigma_d
    ("sct", "P_mean -0.12 (the paper's, scaled to sigma_d = 1.2)", dict(PAIR, p_mean=-0.12)),
    ("sct", "parametrisation time (tangent df/dt)", dict(PAIR, parametrisation="time")),
    ("sct", "P_std 2.0 (iCT's; more of both ends of t)", dict(PAIR, p_std=2.0)),
    ("scd", "lr 1.5e-3 (sct's)", dict(lr=1.5e-3, tangent_norm=0.0)),
    ("scd", "44,000 steps", dict(steps=44_000, tangent_norm=0.0)),
    ("scd", "lr 1.5e-3, 46,000 steps", dict(lr=1.5e-3, steps=46_000, tangent_norm=0.0)),
    # with the batch's velocity (the default since): Lu & Song's tangent normalisation again
    ("sct", "tangent normalisation c = 0.1 (Lu & Song's), the batch's velocity", dict(tangent_norm=0.1)),
    ("scd", "tangent normalisation c = 0.1 (Lu & Song's; its default since)", dict(tangent_norm=0.1)),
]


def tuning_table(interp, seeds, steps, rows=None):
    print("\n### What else was tried: one change at a time, 1-step W1 at each seed and the mean\n")
    print_row("method", "change", *(f"seed {seed}" for seed in seeds), "mean", "2-step mean", "wall (s), seed 0")
    print_row(*["---"] * (5 + len(seeds)))
    for method, label, change in (TUNING if rows is None else [TUNING[i] for i in rows]):
        if steps is not None:
            change = {**change, "steps": steps}
        results = [train_or_diverge(interp, TrainConfig(method=method, seed=seed, **change)) for seed in seeds]
        print_row(method, label, *(f"{r['w1']:.4f}" for r in results), f"{np.mean([r['w1'] for r in results]):.4f}",
                  f"{np.mean([r['w1_2'] for r in results]):.4f}", f"{results[0]['seconds']:.0f}")


def trace_table(interp, seed, steps, methods=METHODS):
    print(f"\n### The 1-step W1 during the default run (seed {seed}; the history's evaluations)\n")
    runs, models = {}, {}
    for method in methods:
        config = TrainConfig(method=method, seed=seed, steps=steps, progress=False, eval_samples=100_000)
        config = dataclasses.replace(config, eval_every=max(1, config.resolved().steps // 10))
        models[method], history = train(interp, config)
        runs[method] = history["evals"]
    print_row("step", *(f"{method} 1-step W1" for method in methods), *(f"{method} 2-step W1" for method in methods))
    print_row(*["---"] * (1 + 2 * len(methods)))
    for row in zip(*runs.values()):
        print_row(row[0]["step"], *(f"{e['w1_1step']:.4f}" for e in row), *(f"{e['w1_2step']:.4f}" for e in row))
    print()
    for method, model in models.items():
        mass, gap = jump_mass(model, interp)
        print(f"{method}: mass on the wrong side of the jump of f(1, .) between the first two modes: "
              f"{mass:+.4f}; times their distance {gap:g}: {abs(mass) * gap:.4f} of the 1-step W1")


def jump_mass(model, interp, n=400_001):
    """Where f(1, .) jumps from the first mode to the second, against the exact f*(1, .).

    The jump is where f(1, x) crosses the midpoint of the two lowest means; the mass of
    N(0, 1) between the learned and the exact crossing is moved by about the distance
    between the modes. returns (signed mass, distance)
    """
    from scipy.special import ndtr, ndtri

    means = np.sort(interp.target.means)
    midpoint, gap = 0.5 * (means[0] + means[1]), float(means[1] - means[0])
    x = ndtri(np.linspace(0.5 / n, 1 - 0.5 / n, n))
    crossing = {name: x[np.argmax(f(np.ones(n), x) > midpoint)]
                for name, f in (("learned", model), ("exact", lambda t, x: interp.flow_map(x, t, 0.0)))}
    return float(ndtr(crossing["learned"]) - ndtr(crossing["exact"])), gap


def normalised_bias(model, interp, c, n, seed=0):
    """|mean (sct - scd)| / |scd| of the trigflow gradient with the normalisation g / (|g| + c)
    applied to both, at n draws: the bias that the nonlinearity adds (0 for c = 0, up to noise)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.05, 1.0, n)
    x_0, x_1 = interp.target.sample(rng, n), rng.standard_normal(n)
    grads = []
    for velocity in ("conditional", "exact"):
        _, backward = continuous_gradient(model, model.params, model.params, interp, t, x_0, x_1,
                                          velocity=velocity, tangent_norm=c)
        grads.append(backward(np.full(n, 1.0 / n)).flat.copy())
    return float(np.linalg.norm(grads[0] - grads[1]) / np.linalg.norm(grads[1]))


def bias_tables(interp, quick):
    model = ConsistencyModel.initialise(interp, MLPConfig(), np.random.default_rng(0))
    sizes = dict(batches=(16, 64), repeats=2, n_bias=1024) if quick else {}
    result = gradient_bias(model, interp, **sizes)
    print("\n### The gradient at fixed weights (a fresh network, seed 0): sct and ct against scd\n")
    print_row("batch B", *result.batches)
    print_row(*["---"] * (1 + result.batches.size))
    print_row("sct error / scd", *(f"{e:.4f}" for e in result.sct_error))
    print_row("sct with the batch's velocity", *(f"{e:.4f}" for e in result.batch_error))
    print(f"\nsct: fitted slope {result.sct_slope:.3f} (unbiased: -0.5); with the batch's velocity "
          f"{result.batch_slope:.3f}\n")
    print_row("dt", *(f"{dt:g}" for dt in result.dts))
    print_row(*["---"] * (1 + result.dts.size))
    print_row("ct bias / scd", *(f"{b:.4f}" for b in result.ct_bias))
    print_row("same, half the draws", *(f"{b:.4f}" for b in result.ct_bias_half))
    print(f"\nct per unit dt: fitted slope {result.ct_slope:.3f} (O(dt) bias: 1)\n")
    print("\n### What the tangent normalisation costs: sct - scd, both normalised, as the draws grow\n")
    ns = (1024, 4096) if quick else (4096, 16_384, 65_536)
    print_row("c", *(f"n = {n:,}" for n in ns))
    print_row(*["---"] * (1 + len(ns)))
    for c in (0.0, 0.1, 1.0):
        print_row(f"{c:g}", *(f"{normalised_bias(model, interp, c, n):.4f}" for n in ns))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parts = ["seeds", "diverge", "budgets", "mixtures", "ablation", "paper", "tuning", "trace", "bias"]
    parser.add_argument("--parts", nargs="+", default=parts, choices=parts)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                        help="the methods of the seeds, mixtures and trace parts")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--diverge-seeds", type=int, nargs="+", default=[5, 6, 7, 8, 9])
    parser.add_argument("--ablation-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--budgets", type=float, nargs="+", default=[5.0, 15.0, 60.0])
    parser.add_argument("--tuning-rows", type=int, nargs="+", default=None,
                        help="only these rows of TUNING (0-based), e.g. to split the part over two processes")
    parser.add_argument("--quick", action="store_true", help="tiny runs: checks the script, not the numbers")
    args = parser.parse_args(argv)
    interp = Interpolant(cmtoy.SEED_MIXTURE)
    steps = 300 if args.quick else None
    print(f"Machine: {machine()}")
    print(f"Rerun: python benchmarks/bench_continuous.py --parts {' '.join(args.parts)} "
          f"--methods {' '.join(args.methods)} --seeds "
          f"{' '.join(map(str, args.seeds))} --diverge-seeds {' '.join(map(str, args.diverge_seeds))} "
          f"--ablation-seeds {' '.join(map(str, args.ablation_seeds))}"
          + (f" --tuning-rows {' '.join(map(str, args.tuning_rows))}" if args.tuning_rows else "")
          + (" --quick" if args.quick else ""))
    if "seeds" in args.parts:
        seeds_table(interp, args.seeds, steps, args.methods)
    if "diverge" in args.parts:
        diverge_table(interp, args.diverge_seeds, steps)
    if "budgets" in args.parts:
        budgets_table(interp, [0.5, 1.0] if args.quick else args.budgets, 100 if args.quick else 500, args.methods)
    if "mixtures" in args.parts:
        mixtures_table(steps, args.methods)
    if "ablation" in args.parts:
        ablation_table(interp, args.ablation_seeds, steps)
    if "paper" in args.parts:
        ablation_table(interp, args.ablation_seeds, steps, [("Lu & Song's recipe (trigflow, c = 0.1, adaptive weight)",
                                                              PAPER)])
    if "tuning" in args.parts:
        tuning_table(interp, args.seeds, steps, args.tuning_rows)
    if "trace" in args.parts:
        trace_table(interp, args.seeds[0], steps, args.methods)
    if "bias" in args.parts:
        bias_tables(interp, args.quick)


if __name__ == "__main__":
    main()
