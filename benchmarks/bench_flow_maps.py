"""Quality of the flow-map methods (meanflow, psd, fmd) on the seed mixture, scored exactly.

Prints Markdown tables for benchmarks/README.md:

1. ("defaults") each method with its DEFAULT TrainConfig, for each seed: steps, wall time,
   W1 of composition sampling with 1, 2 and 4 uniform steps (x <- X(t_i, t_{i+1}, x) down
   to 0), W1 of the re-noising chain at (1, 0.5) and (1, 0.75, 0.5, 0.25) with the s = 0
   slice, and the mean two-time error E|X(t, s, x) - h_{t->s}(x)| over s < t, x ~ p_t;
   against the targets of issue 20 (meanflow 1-step <= 0.03, 4-step <= 0.015, two-time
   error <= 0.03; psd 1-step <= 0.03, 4-step <= 0.015; fmd 1-step <= 0.015; for each, 1 ->
   2 -> 4 composition steps never worse). W1 uses 100,000 samples, exact W1 to the target
   CDF; composition with 1, 2 and 4 steps starts from the same noise (see ``score``;
   ``--fresh-noise`` draws new noise for each, as runs 1-20 of the raw output did); the
   exact map's rows give the sampling floor of as many samples. The columns "law 1", "law 2"
   and "law 4" are the W1 of the law that composition samples from, without their sampling
   noise (``cmtoy.composition_w1``: the noise is 100,000 quantiles of N(0, 1), not draws), and
   the targets' verdict says whether 1 -> 2 -> 4 holds for them too; the issue's verdict
   stays the one on the samples;
2. ("ablation") each method's own choices switched one at a time, at the default step
   count (or --ablation-steps), seed 0: the share of s = t pairs, MeanFlow's adaptive
   weight, the time distribution (the MeanFlow paper's logit-normal(-0.4, 1)), psd's
   choice of the intermediate time u, fmd's continuous (JVP) against its one-hop target,
   the paper's residual losses (``stop_gradient=False``: differentiated through the
   network's derivative and the teacher's point) and its Lagrangian condition (the hop in
   s) against the Eulerian one (the hop in t),
   a share of the off-diagonal pairs at s = 0 (``slice_share``) or, for fmd, at t = 1
   (``noise_share``), the nested draw of the pairs against the sorted one (``pair_draw``),
   and for meanflow and psd
   the pair's own velocity v_hat in place of the batch's (``velocity_estimate``). A run that diverges
   is a row that says so;
3. ("mixtures") each default, seed 0, on the harder mixture of bench_training.py and on one
   no setting was tuned on, W1 and two-time error in units of the data's std sigma_d;
4. ("budgets") each method's default, seed 0, after a wall-time budget of 5, 15 and 60 s:
   the steps that fit the budget (bench_training's probe of the loop's speed), so that
   the learning rate's cosine decay ends at the budget. Time it alone on the machine;
5. ("ceiling") what each method's network learns when it is told the answer: its default
   config (network, steps, learning rate, time pairs) with the method's target replaced by
   the exact average velocity (x - h_{t->s}(x)) / (t - s), a supervised regression that no
   method can beat in as many steps; and, beside it and beside the method's own target,
   a tenth of each batch's off-diagonal pairs moved to (t, s) = (1, 0), where the one-step
   map lives (not methods of cmtoy: they are registered for this process only); and the
   method's own target with a quarter of them at s = 0, the one-step slice
   (``slice_share``), t kept (seed 0).
6. ("jumps") where 4-step composition loses, seed 0: each jump's error E|X(t_i, t_{i+1}, x)
   - h(x)| on the points x of the exact chain from score()'s noise, and the one-step jump's.
7. ("boundary") where the one-step map puts the boundary between the modes, seed 0: at
   s = 0.9 ... 0, the net share of score()'s noise that X(1, s, .) moves across the exact
   separatrix h_{1->s}(x*), and at s = 0 the share on the wrong side in all and the share
   left between the modes (W1 here is mostly these shares times the distances they are off).

8. ("culprits") which jump makes more composition steps worse, for each seed: the W1 of the
   law that 2- and 4-step composition samples from (cmtoy.composition_w1), and of the law
   with only one of its jumps learned and the others exact.

With --config, every run of every part sets these TrainConfig fields (key=value, a Python
literal), e.g. another form of fmd over the seeds; mlp.<field>=value sets one field of the
method's network, e.g. mlp.n_fourier=4.

Run from the repository root:

    python benchmarks/bench_flow_maps.py                          # defaults, seeds 0-4
    python benchmarks/bench_flow_maps.py --parts defaults --methods psd --seeds 0
    python benchmarks/bench_flow_maps.py --parts ablation --ablation-steps 10000
    python benchmarks/bench_flow_maps.py --parts mixtures
    python benchmarks/bench_flow_maps.py --parts budgets --budgets 5 15 60
    python benchmarks/bench_flow_maps.py --parts ceiling --seeds 0
    python benchmarks/bench_flow_maps.py --parts jumps --methods meanflow
    python benchmarks/bench_flow_maps.py --parts boundary
    python benchmarks/bench_flow_maps.py --parts culprits --methods fmd --seeds 2 8
    python benchmarks/bench_flow_maps.py --methods fmd --config teacher_form=\'eulerian\' teacher_hop=0.05
    python benchmarks/bench_flow_maps.py --quick                  # short smoke run of every part

Timings depend on the load of the machine; the machine and its load are printed.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import os
import sys
import time

import numpy as np
import scipy.stats

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.dirname(__file__))

from bench_exact import machine as describe_machine  # noqa: E402
from bench_training import steps_per_second  # noqa: E402

import cmtoy  # noqa: E402
from cmtoy import training  # noqa: E402
from cmtoy.flow_map_losses import FlowMapMethod, average_velocity, regression_loss  # noqa: E402
from cmtoy.mlp import MLPConfig  # noqa: E402
from cmtoy.sampling import jumps  # noqa: E402
from cmtoy.training import TrainConfig, train  # noqa: E402

METHODS = ("meanflow", "psd", "fmd")
N_SAMPLES = 100_000
COMPOSE = {1: (1.0,), 2: (1.0, 0.5), 4: (1.0, 0.75, 0.5, 0.25)}  # steps -> sampling times
# issue 20's targets: (column, bound) per method
TARGETS = {"meanflow": (("compose 1", 0.03), ("compose 4", 0.015), ("two-time error", 0.03)),
           "psd": (("compose 1", 0.03), ("compose 4", 0.015)),
           "fmd": (("compose 1", 0.015),)}
FMD_FOUR_FEATURES = dataclasses.replace(training.METHODS["fmd"].defaults["mlp"], n_fourier=4)  # fmd's network, 4 time features
# each method's own choices, one at a time: (label, TrainConfig overrides)
ABLATIONS = {
    "meanflow": [("s = t share 0.25", dict(diagonal_share=0.25)), ("s = t share 0.75", dict(diagonal_share=0.75)),
                 ("adaptive weight p = 1", dict(adaptive_p=1.0)), ("adaptive weight p = 0.5", dict(adaptive_p=0.5)),
                 ("logit-normal(-0.4, 1) times", dict(time_distribution="lognormal", p_mean=-0.4, p_std=1.0)),
                 ("s = 0 share 0", dict(slice_share=0.0)), ("s = 0 share 0.1", dict(slice_share=0.1)),
                 ("sorted pairs (t the later of two draws)", dict(pair_draw="sorted")),
                 ("sorted pairs, s = 0 share 0", dict(pair_draw="sorted", slice_share=0.0)),
                 ("velocity of the pair (v_hat, as in the paper)", dict(velocity_estimate="conditional"))],
    "psd": [("velocity of the pair (v_hat, as in the paper)", dict(velocity_estimate="conditional")),
            ("sorted pairs (t the later of two draws)", dict(pair_draw="sorted")),
            ("s = 0 share 0", dict(slice_share=0.0)), ("s = 0 share 0.25", dict(slice_share=0.25)),
            ("warm-up 500 steps", dict(warmup=500)), ("adaptive weight p = 0.5", dict(adaptive_p=0.5)),
            ("midpoint u (shortcut models)", dict(intermediate="midpoint")),
            ("s = t share 0.5", dict(diagonal_share=0.5)), ("s = t share 0.75", dict(diagonal_share=0.75)),
            ("logit-normal(-0.4, 1) times", dict(time_distribution="lognormal", p_mean=-0.4, p_std=1.0))],
    "fmd": [("squared loss (no adaptive weight)", dict(adaptive_p=0.0)), ("adaptive weight p = 1", dict(adaptive_p=1.0)),
            ("t = 1 share 0", dict(noise_share=0.0)), ("t = 1 share 0.5", dict(noise_share=0.5)),
            ("nested pairs (s uniform below t)", dict(pair_draw="nested")),
            ("continuous Lagrangian target (JVP, teacher_hop 0)", dict(teacher_hop=0.0)),
            ("continuous Lagrangian residual, differentiated through (the paper's loss)",
             dict(teacher_hop=0.0, stop_gradient=False, adaptive_p=0.0)),
            ("continuous Eulerian residual, differentiated through (the paper's loss)",
             dict(teacher_form="eulerian", teacher_hop=0.0, stop_gradient=False, adaptive_p=0.0)),
            ("teacher hop 0.05", dict(teacher_hop=0.05)),
            ("teacher hop 0.1", dict(teacher_hop=0.1)),
            ("one RK4 step over the hop", dict(teacher_substeps=1)),
            ("five Heun steps over the hop", dict(teacher_solver="heun", teacher_substeps=5)),
            ("teacher hop 0.02, one Heun step, 20,000 steps (the default of runs 59-77)",
             dict(teacher_hop=0.02, teacher_substeps=1, teacher_solver="heun", steps=20_000)),
            ("Eulerian form (hop in t)", dict(teacher_form="eulerian")),
            ("Eulerian form, teacher hop 0.05", dict(teacher_form="eulerian", teacher_hop=0.05)),
            ("Eulerian form, teacher hop 0.05, t = 1 share 0", dict(teacher_form="eulerian", teacher_hop=0.05, noise_share=0.0)),
            ("s = 0 share 0.5", dict(slice_share=0.5)),
            ("Eulerian form, teacher hop 0.05, s = 0 share 0.5, t = 1 share 0",
             dict(teacher_form="eulerian", teacher_hop=0.05, slice_share=0.5, noise_share=0.0)),
            ("s = t share 0.5", dict(diagonal_share=0.5)),
            ("s = t share 0", dict(diagonal_share=0.0)),
            ("4 time features (the other methods' network)", dict(mlp=FMD_FOUR_FEATURES)),
            ("4 time features, s = t share 0.5 (the default until run 58)", dict(diagonal_share=0.5, mlp=FMD_FOUR_FEATURES)),
            ("logit-normal(-0.4, 1) times", dict(time_distribution="lognormal", p_mean=-0.4, p_std=1.0))],
}
HARD = cmtoy.GaussianMixture(means=[-2.0, 0.3, 3.0], stds=[0.2, 0.05, 0.7], weights=[0.5, 0.2, 0.3])  # bench_training's
UNTUNED = cmtoy.GaussianMixture(means=[-3.0, -1.0, 1.0, 3.0], stds=[0.2, 0.2, 0.2, 0.2], weights=[0.1, 0.4, 0.4, 0.1])
COLUMNS = ("compose 1", "compose 2", "compose 4", "renoise 2", "renoise 4", "two-time error", "law 1", "law 2", "law 4")
DIVERGED = ("diverged",) + ("-",) * (len(COLUMNS) - 1)  # the cells of a run that diverged


def machine():
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{describe_machine()}, load average {load:.1f} at start"


def score(model, interp, seed=0):
    """The COLUMNS of one model: W1 of composition and re-noising (N_SAMPLES each), two-time error,
    and the W1 of the laws that composition with 1, 2 and 4 steps samples from (no sampling noise).

    Composition with 1, 2 and 4 steps starts from the same noise (common random numbers):
    which mode a sample lands in is then the same draw for every number of steps, so that
    1 -> 2 -> 4 compares the maps and not three draws of the modes' weights, whose sampling
    noise alone moves W1 by as much as the differences it is asked to tell apart.

    With ``--fresh-noise`` (FRESH_NOISE), as in runs 1-20: every draw, composition included,
    comes in turn from one generator, so that each number of steps has noise of its own.
    """
    w1 = {}
    rng = np.random.default_rng([seed, 7])
    for steps, times in COMPOSE.items():
        noise = rng if FRESH_NOISE else np.random.default_rng([seed, 7])  # the same x_1 for every number of steps
        w1[f"compose {steps}"] = cmtoy.wasserstein1(cmtoy.sample(model, noise, N_SAMPLES, times=times, chain="compose"),
                                                    interp.target)
    if not FRESH_NOISE:
        rng = np.random.default_rng([seed, 8])
    for steps in (2, 4):
        w1[f"renoise {steps}"] = cmtoy.wasserstein1(cmtoy.sample(model, rng, N_SAMPLES, times=COMPOSE[steps]),
                                                    interp.target)
    w1["two-time error"] = cmtoy.two_time_error(model, interp, n=20_000, rng=rng)
    for steps, times in COMPOSE.items():  # the law composition samples from, without their noise
        w1[f"law {steps}"] = cmtoy.composition_w1(model, interp, times, n=N_SAMPLES)
    return w1


OVERRIDES = {}  # --config: TrainConfig fields every run sets
FRESH_NOISE = False  # --fresh-noise: score() draws new noise for each number of steps (runs 1-20)


def configure(**fields):
    """The TrainConfig of one run: ``fields``, then the --config overrides.

    An override ``mlp.<field>`` replaces that field of the run's network (the method's
    default network unless ``fields`` give one), so that one setting of it can change alone.
    """
    network = {key.removeprefix("mlp."): value for key, value in OVERRIDES.items() if key.startswith("mlp.")}
    config = TrainConfig(progress=False, **{**fields, **{key: value for key, value in OVERRIDES.items()
                                                         if not key.startswith("mlp.")}})
    if network:  # the run's network (the method's unless fields give one), one field changed
        config = dataclasses.replace(config, mlp=dataclasses.replace(config.resolved().mlp, **network))
    return config


def override(text):
    """One --config item, key=value with a Python literal value. -> (key, value)"""
    key, sep, value = text.partition("=")
    keys = {f.name for f in dataclasses.fields(TrainConfig)} | {f"mlp.{f.name}" for f in dataclasses.fields(MLPConfig)}
    if not sep or key not in keys:
        raise argparse.ArgumentTypeError(f"expected key=value with a TrainConfig field (or mlp.<an MLPConfig "
                                         f"field>) as key, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"the value of {key} is not a Python literal: {value!r}") from None


def run(interp, config):
    start = time.perf_counter()
    model, history = train(interp, config)
    return model, history["steps_done"], time.perf_counter() - start


def verdict(method, row):
    """Which of the method's targets the row meets, and whether 1 -> 2 -> 4 steps never got worse
    (on the samples, the issue's verdict, and for the law they are drawn from)."""
    parts = [f"{column} <= {bound} ({'met' if row[column] <= bound else 'missed'})"
             for column, bound in TARGETS[method]]
    for label, prefix in (("1 -> 2 -> 4", "compose"), ("law 1 -> 2 -> 4", "law")):
        steady = row[f"{prefix} 1"] >= row[f"{prefix} 2"] >= row[f"{prefix} 4"]
        parts.append(f"{label} {'never worse' if steady else 'got worse'}")
    return "; ".join(parts)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def numbers(row):
    return [f"{row[column]:.4f}" for column in COLUMNS]


def part_defaults(interp, methods, seeds, steps=None):
    rows = []
    exact = score(cmtoy.ExactModel(interp), interp)
    rows.append(["exact h (floor)", "-", "-", "-", *numbers(exact), "-"])
    for method in methods:
        for seed in seeds:
            config = configure(method=method, seed=seed, **({"steps": steps} if steps else {}))
            try:
                model, done, seconds = run(interp, config)
            except FloatingPointError as error:  # a diverged run is a result too: its row says so
                rows.append([method, seed, "-", "-", *DIVERGED, f"diverged: {error}"])
                print(f"  {method} seed {seed}: diverged", file=sys.stderr, flush=True)
                continue
            row = score(model, interp)
            rows.append([method, seed, done, f"{seconds:.0f}", *numbers(row), verdict(method, row)])
            print(f"  {method} seed {seed}: {done} steps, {seconds:.0f} s", file=sys.stderr, flush=True)
    print("### Each method with its default TrainConfig (W1 of 100,000 samples; two-time error of 20,000 points)\n")
    print(table(("method", "seed", "steps", "wall (s)", *COLUMNS, "targets"), rows))
    print()


def part_ablation(interp, methods, steps=None):
    rows = []
    for method in methods:
        base = configure(method=method, seed=0, **({"steps": steps} if steps else {}))
        for label, overrides in [("default", {}), *ABLATIONS[method]]:
            config = dataclasses.replace(base, **overrides)
            try:
                model, done, seconds = run(interp, config)
            except FloatingPointError:
                rows.append([method, label, "-", "-", *DIVERGED])
                print(f"  {method} {label}: diverged", file=sys.stderr, flush=True)
                continue
            rows.append([method, label, done, f"{seconds:.0f}", *numbers(score(model, interp))])
            print(f"  {method} {label}: {done} steps, {seconds:.0f} s", file=sys.stderr, flush=True)
    print("### Each method's own choices, one at a time (seed 0)\n")
    print(table(("method", "change", "steps", "wall (s)", *COLUMNS), rows))
    print()


def part_mixtures(methods, steps=None):
    rows = []
    for label, mixture in (("harder (bench_training.py)", HARD), ("untuned, four modes", UNTUNED)):
        interp = cmtoy.Interpolant(mixture, "linear")
        sigma_d = float(np.sqrt(mixture.var))
        exact = score(cmtoy.ExactModel(interp), interp)
        rows.append([label, f"{sigma_d:.3f}", "exact h (floor)", "-", "-", *(f"{exact[c] / sigma_d:.4f}" for c in COLUMNS)])
        for method in methods:
            config = configure(method=method, seed=0, **({"steps": steps} if steps else {}))
            model, done, seconds = run(interp, config)
            row = score(model, interp)
            rows.append([label, f"{sigma_d:.3f}", method, done, f"{seconds:.0f}", *(f"{row[c] / sigma_d:.4f}" for c in COLUMNS)])
            print(f"  {label} {method}: {done} steps, {seconds:.0f} s", file=sys.stderr, flush=True)
    print("### Other mixtures, each method's default (seed 0), in units of sigma_d\n")
    print(table(("mixture", "sigma_d", "method", "steps", "wall (s)", *(f"{c} / sigma_d" for c in COLUMNS)), rows))
    print()


def part_budgets(interp, methods, budgets, probe_steps=2000):
    rows = []
    for method in methods:
        rate = steps_per_second(interp, method, probe_steps)
        for budget in budgets:
            config = configure(method=method, seed=0, steps=max(50, int(rate * budget)))
            model, done, seconds = run(interp, config)
            rows.append([method, f"{budget:g}", done, f"{seconds:.0f}", *numbers(score(model, interp))])
            print(f"  {method} {budget:g} s: {done} steps, {seconds:.0f} s", file=sys.stderr, flush=True)
    print("### Each method's default after a wall-time budget (seed 0; steps from a probe of the loop's speed)\n")
    print(table(("method", "budget (s)", "steps", "wall (s)", *COLUMNS), rows))
    print()


def score_noise():
    """The N_SAMPLES noise x_1 that score() starts composition from at seed 0. -> [N_SAMPLES]"""
    return np.random.default_rng([0, 7]).standard_normal(N_SAMPLES)


def part_jumps(interp, methods, steps=None):
    """Where 4-step composition loses: each jump's error on the exact chain's points."""
    rows = []
    grid = COMPOSE[4] + (0.0,)
    for method in methods:
        config = configure(method=method, seed=0, **({"steps": steps} if steps else {}))
        model, done, seconds = run(interp, config)
        noise = score_noise()

        def jump(x, t, s):  # (the jump's mean error at the points x, the exact h_{t->s}(x))
            exact = interp.flow_map(x, t, s)
            return f"{np.mean(np.abs(model.flow_map(x, t, s) - exact)):.4f}", exact

        x, cells = noise, []
        for t, s in zip(grid[:-1], grid[1:]):  # x: exact points of p_t, on the exact chain
            cell, x = jump(x, t, s)
            cells.append(cell)
        rows.append([method, done, *cells, jump(noise, 1.0, 0.0)[0]])
        print(f"  {method}: {done} steps, {seconds:.0f} s", file=sys.stderr, flush=True)
    jumps = [f"{t:g} -> {s:g}" for t, s in zip(grid[:-1], grid[1:])]
    print("### Each jump's error E|X(t, s, x) - h(x)|, x the exact chain's points of p_t (seed 0)\n")
    print(table(("method", "steps", *jumps, "1 -> 0"), rows))
    print()


class _OneJumpLearned:
    """The exact flow map but for one jump (t, s), which ``model`` makes ("culprits").

    ``hits`` counts the calls that were that jump, so that a jump that never came (another
    float for the same time) cannot pass for the exact map unnoticed.
    """

    def __init__(self, model, exact, jump):
        self.model, self.exact, self.jump, self.hits = model, exact, jump, 0

    def flow_map(self, x, t, s):
        learned = (float(t[0]), float(s[0])) == self.jump  # sampling's jumps are one (t, s) per call
        self.hits += learned
        return (self.model if learned else self.exact).flow_map(x, t, s)


def _law_with_one_jump_learned(model, exact, interp, times, jump):
    one = _OneJumpLearned(model, exact, jump)
    w1 = cmtoy.composition_w1(one, interp, times, n=N_SAMPLES)
    if one.hits != 1:
        raise RuntimeError(f"the jump {jump} came {one.hits} times in composition through {times}, not once")
    return w1


def part_culprits(interp, methods, seeds, steps=None):
    """Which jump makes the composed law worse: for 2 and 4 steps, the law's W1 with every jump
    learned, and with only one of them learned and the others exact (cmtoy.composition_w1)."""
    rows, exact = [], cmtoy.ExactModel(interp)
    for method in methods:
        for seed in seeds:
            config = configure(method=method, seed=seed, **({"steps": steps} if steps else {}))
            model, done, seconds = run(interp, config)
            cells = []
            for n_steps in (2, 4):
                times = COMPOSE[n_steps]
                cells.append(f"{cmtoy.composition_w1(model, interp, times, n=N_SAMPLES):.4f}")
                cells += [f"{_law_with_one_jump_learned(model, exact, interp, times, jump):.4f}" for jump in jumps(times)]
            rows.append([method, seed, done, *cells])
            print(f"  {method} seed {seed}: {done} steps, {seconds:.0f} s", file=sys.stderr, flush=True)
    labels = {n: [f"only {t:g} -> {s:g}" for t, s in jumps(COMPOSE[n])] for n in (2, 4)}
    print("### Which jump makes the law worse: its W1 with every jump learned, and with one learned, the rest exact\n")
    print(table(("method", "seed", "steps", "2-step law", *labels[2], "4-step law", *labels[4]), rows))
    print()


CORNER_SHARE = 0.1  # "ceiling": the share of each batch's off-diagonal pairs moved to (t, s) = (1, 0)
SLICE_SHARE = 0.25  # "ceiling": TrainConfig.slice_share, the share of them moved to s = 0


BOUNDARY_TIMES = (0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.0)  # "boundary": the s of X(1, s, .) where it is read


def part_boundary(interp, methods, steps=None):
    """Where the one-step map's mode boundary is decided, seed 0: at each s, the share of score()'s
    noise x_1 that X(1, s, .) puts on the other side of the exact separatrix h_{1->s}(x*) than
    h does, net (signed: more of it on the small mode's side is > 0) and in all, in % of the
    samples, and the share of X(1, 0, x_1) between the modes (more than 5 of a mode's std
    from each mean), where the exact map puts none. x* = Phi^{-1}(w_1), the noise that splits
    the two modes: x_1 is the noise at t = 1."""
    order = np.argsort(interp.target.means)  # the modes from left to right
    weights, means, stds = (getattr(interp.target, name)[order] for name in ("weights", "means", "stds"))
    if weights.size != 2 or interp.schedule.alpha(1.0) != 0.0:
        raise ValueError("the boundary part reads a two-mode mixture under a schedule with alpha_1 = 0")
    split = float(scipy.stats.norm.ppf(weights[0]))  # x*: below it, the noise flows to the left mode
    noise = score_noise()
    right = noise > split
    gap = (means[0] + 5 * stds[0], means[1] - 5 * stds[1])  # between the modes, 5 of its std from each
    rows = []
    for method in ("exact h", *methods):
        if method == "exact h":  # the measurement's own check: zero everywhere
            model, done, seconds = cmtoy.ExactModel(interp), "-", 0.0
        else:
            config = configure(method=method, seed=0, **({"steps": steps} if steps else {}))
            model, done, seconds = run(interp, config)
        mapped = {s: model.flow_map(noise, 1.0, s) for s in BOUNDARY_TIMES}  # X(1, s, x_1)
        beyond = {s: x > interp.flow_map(split, 1.0, s) for s, x in mapped.items()}  # past the separatrix
        cells = [f"{100 * (np.mean(beyond[s]) - np.mean(right)):+.2f}" for s in BOUNDARY_TIMES]
        between = (mapped[0.0] > gap[0]) & (mapped[0.0] < gap[1])
        rows.append([method, done, *cells, f"{100 * np.mean(beyond[0.0] != right):.2f}", f"{100 * np.mean(between):.2f}"])
        print(f"  {method}: {done} steps, {seconds:.0f} s", file=sys.stderr, flush=True)
    print("### The one-step map's mode boundary: net share of the noise moved across the separatrix by "
          "X(1, s, .), in % (seed 0)\n")
    print(table(("method", "steps", *(f"s = {s:g}" for s in BOUNDARY_TIMES), "wrong side at s = 0 (%)",
                 "between the modes at s = 0 (%)"), rows))
    print()


def _corner(batches):
    """``batches`` with the first CORNER_SHARE of each batch's off-diagonal pairs moved to (1, 0)."""

    class Corner(batches):
        def times(self):
            t, s, n_diagonal = super().times()
            end = n_diagonal + int(round(CORNER_SHARE * (t.size - n_diagonal)))
            t[n_diagonal:end], s[n_diagonal:end] = 1.0, 0.0
            return t, s, n_diagonal

    return Corner


def _exact_target(batches):
    """The method's batches with its loss replaced by the regression onto the exact average velocity."""

    class ExactTarget(batches):
        def loss(self, k, params, target, out):
            t, s, _, x_t, _ = self.draw()
            u, cache = self.model.velocity(params, t, s, x_t)
            exact = average_velocity(t, s, x_t - self.interp.flow_map(x_t, t, s), self.interp.velocity(t, x_t))
            return regression_loss(self.model, params, cache, u - exact, self.config.adaptive_p, out)

    return ExactTarget


def variant(method, label, batches):
    """Register ``batches`` under a new method name with ``method``'s defaults (this process only)."""
    name = f"{method}, {label}"
    training.METHODS[name] = FlowMapMethod(batches, training.METHODS[method].defaults)
    return name


def part_ceiling(interp, methods, seeds, steps=None):
    rows = []
    for method in methods:
        own = training.METHODS[method].batches
        exact = _exact_target(own)
        for label, batches, fields in (("own target", own, {}), ("exact target", exact, {}),
                                       ("own target, corner share", _corner(own), {}),
                                       ("exact target, corner share", _corner(exact), {}),
                                       ("own target, s = 0 share", own, {"slice_share": SLICE_SHARE})):
            name = method if batches is own else variant(method, label, batches)
            for seed in seeds:
                config = dataclasses.replace(configure(method=name, seed=seed, **({"steps": steps} if steps else {})),
                                             **fields)  # the row's own setting over --config
                model, done, seconds = run(interp, config)
                rows.append([method, label, seed, done, f"{seconds:.0f}", *numbers(score(model, interp))])
                print(f"  {method} {label} seed {seed}: {done} steps, {seconds:.0f} s", file=sys.stderr, flush=True)
    print(f"### Each method's network told the answer (exact target); {CORNER_SHARE:g} of the off-diagonal "
          f"pairs at (t, s) = (1, 0) (corner share), or {SLICE_SHARE:g} of them at s = 0 (s = 0 share)\n")
    print(table(("method", "target", "seed", "steps", "wall (s)", *COLUMNS), rows))
    print()


PARTS = ("defaults", "ablation", "mixtures", "budgets", "ceiling", "jumps", "boundary", "culprits")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS,
                        default=["defaults"])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--ablation-steps", type=int, default=None, help="steps of each ablation run (default: the method's)")
    parser.add_argument("--budgets", type=float, nargs="+", default=[5.0, 15.0, 60.0], help="wall-time budgets (s)")
    parser.add_argument("--config", nargs="+", type=override, default=[], metavar="KEY=VALUE",
                        help="TrainConfig fields every run sets, e.g. teacher_form='eulerian'")
    parser.add_argument("--fresh-noise", action="store_true",
                        help="new noise for each number of composition steps, as runs 1-20 of the raw output drew")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 300 steps, one seed, every part")
    args = parser.parse_args(argv)
    OVERRIDES.update(args.config)
    global FRESH_NOISE
    FRESH_NOISE = args.fresh_noise
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, "linear")
    print(f"Machine: {machine()}")
    print(f"Rerun: python benchmarks/bench_flow_maps.py {' '.join(sys.argv[1:])}\n")
    steps = 300 if args.quick else None
    parts = PARTS if args.quick else args.parts
    if "defaults" in parts:
        part_defaults(interp, args.methods, args.seeds[:1] if args.quick else args.seeds, steps)
    if "ablation" in parts:
        part_ablation(interp, args.methods, steps or args.ablation_steps)
    if "mixtures" in parts:
        part_mixtures(args.methods, steps)
    if "budgets" in parts:
        part_budgets(interp, args.methods, [0.5, 1.0] if args.quick else args.budgets, 100 if args.quick else 2000)
    if "ceiling" in parts:
        part_ceiling(interp, args.methods, args.seeds[:1] if args.quick else args.seeds, steps)
    if "jumps" in parts:
        part_jumps(interp, args.methods, steps)
    if "boundary" in parts:
        part_boundary(interp, args.methods, steps)
    if "culprits" in parts:
        part_culprits(interp, args.methods, args.seeds[:1] if args.quick else args.seeds, steps)


if __name__ == "__main__":
    main()
