"""TrainConfig validation, the curriculum, short training runs, determinism.

More in test_train_config.py (resolved defaults, validators) and test_train_methods.py
(the method registry, divergence).
"""


import numpy as np
import pytest

import cmtoy
from cmtoy.consistency import ConsistencyModel, load_model
from cmtoy.interpolant import Interpolant
from cmtoy.metrics import wasserstein1
from cmtoy.mlp import MLPConfig
from cmtoy.sampling import sample
from cmtoy.pairs import BatchSampler, grid_size, teacher_step, time_grid
from cmtoy.training import TrainConfig, train

INTERP = Interpolant(cmtoy.SEED_MIXTURE)
QUICK = dict(steps=600, batch=128, n_min=4, n_max=64, warmup=50, progress=False, eval_samples=4000,
             mlp=MLPConfig(width=32, depth=2, n_fourier=8))


@pytest.mark.parametrize(
    ("field", "value"),
    [("method", "ddpm"), ("steps", 0), ("steps", -5), ("batch", 0), ("n_min", 1), ("lr", -1e-3),
     ("lr", float("nan")), ("ema", 1.0), ("ema", -0.1), ("eval_ema", 1.5), ("distance", "l1"),
     ("curriculum", "linear"), ("time_distribution", "beta"), ("solver", "midpoint"), ("huber_c", 0.0),
     ("max_seconds", 0.0), ("sampling", "sobol")],
)
def test_bad_configs_raise_a_value_error_naming_the_value(field, value):
    with pytest.raises(ValueError, match=field if field != "method" else "ddpm"):
        TrainConfig(**{field: value})


def test_n_min_above_n_max_is_rejected():
    with pytest.raises(ValueError, match="n_min"):
        TrainConfig(n_min=100, n_max=50)
    with pytest.raises(ValueError, match="n_max=80"):  # cd's default n_max
        TrainConfig(method="cd", n_min=100)


def test_unset_settings_take_the_method_defaults_and_explicit_ones_win():
    assert TrainConfig(method="ict").ema is None  # the config keeps what the user set
    ict = TrainConfig(method="ict").resolved()
    assert (ict.ema, ict.distance, ict.weighting, ict.time_distribution) == (0.0, "pseudo_huber", "inverse_dt", "lognormal")
    ct = TrainConfig(method="ct").resolved()
    assert ct.ema > 0 and ct.distance == "squared"
    assert (ct.sampling, ct.mlp.dtype, ict.sampling, ict.mlp.dtype) == ("qmc", "float32", "qmc", "float32")
    cd = TrainConfig(method="cd").resolved()
    assert (cd.sampling, cd.mlp, cd.steps, cd.solver, cd.n_max) == ("iid", MLPConfig(), 16_000, "heun", 80)
    assert TrainConfig(method="ct", mlp=MLPConfig(width=8), sampling="iid").resolved().mlp == MLPConfig(width=8)
    assert TrainConfig(method="ict", ema=0.9, distance="squared").resolved().ema == 0.9
    # ict warms up for 5% of however many steps it takes; ct and cd for 500 steps
    warmups = [TrainConfig(method="ict", steps=3000).resolved().warmup, ict.warmup, ct.warmup, cd.warmup]
    assert warmups == [150, 2000, 500, 500]
    assert TrainConfig(method="ict", steps=3000, warmup=7).resolved().warmup == 7


@pytest.mark.parametrize("curriculum", ["doubling", "sqrt", "constant"])
def test_curriculum_grows_from_n_min_to_n_max(curriculum):
    config = TrainConfig(curriculum=curriculum, steps=1000, n_min=10, n_max=1280).resolved()
    ns = [grid_size(config, k) for k in range(1000)]
    assert np.all(np.diff(ns) >= 0) and ns[-1] == 1280
    assert ns[0] == (1280 if curriculum == "constant" else 10)
    if curriculum == "doubling":
        assert set(ns) == {10 * 2**j for j in range(8)}


@pytest.mark.parametrize("distribution", ["uniform", "lognormal"])
def test_time_grid_spans_zero_to_one_with_a_probability_per_step(distribution):
    config = TrainConfig(time_distribution=distribution, grid_rho=2.0).resolved()
    t, p = time_grid(config, cmtoy.LinearSchedule(), 40)
    assert t[0] == 0.0 and t[-1] == 1.0 and np.all(np.diff(t) > 0)
    assert p.shape == (40,) and np.all(p >= 0) and p.sum() == pytest.approx(1.0)


def test_qmc_batches_cover_steps_and_modes_in_proportion_unlike_iid_ones():
    p = np.full(64, 1.0 / 64)  # 256 pairs over 64 steps: 4 per step
    counts = {}
    for sampling in ("iid", "qmc"):
        draw = BatchSampler(TrainConfig(sampling=sampling, batch=256).resolved(), INTERP.target, np.random.default_rng(3))
        batches = [draw(p) for _ in range(20)]
        counts[sampling] = (np.array([np.bincount(n, minlength=64) for n, _, _ in batches]),
                            np.array([np.sum(x_0 > 0.5) for _, x_0, _ in batches]))  # the mode at 2 (weight 0.2)
        x_0, x_1 = (np.concatenate([b[j] for b in batches]) for j in (1, 2))
        assert abs(x_1.mean()) < 0.1 and abs(x_1.std() - 1.0) < 0.1  # the laws are unchanged
        assert abs(x_0.mean() - INTERP.target.mean) < 0.1 and abs(x_0.std() - np.sqrt(INTERP.target.var)) < 0.1
    steps_qmc, mode_qmc = counts["qmc"]
    steps_iid, mode_iid = counts["iid"]
    assert np.all(steps_qmc == 4) and np.all(np.isin(mode_qmc, (51, 52)))  # 256 * 0.2 = 51.2
    assert steps_iid.max() > 6 and np.ptp(mode_iid) > 5


def test_iid_batches_draw_from_the_rng_in_the_documented_order():
    p = np.array([0.2, 0.3, 0.5])
    n, x_0, x_1 = BatchSampler(TrainConfig(sampling="iid", batch=8).resolved(), INTERP.target, np.random.default_rng(4))(p)
    rng = np.random.default_rng(4)
    assert np.array_equal(n, rng.choice(3, size=8, p=p))
    assert np.array_equal(x_0, INTERP.target.sample(rng, 8)) and np.array_equal(x_1, rng.standard_normal(8))


@pytest.mark.parametrize(("solver", "order"), [("euler", 2), ("heun", 3), ("rk4", 5)])
def test_teacher_step_has_the_local_error_order_of_its_solver(solver, order):
    # against the exact flow map (itself checked against solve_ivp in test_interpolant):
    # halving dt divides the error of one step by 2^order
    x = np.linspace(-2.5, 3.5, 13)
    errors = []
    for dt in (0.02, 0.01, 0.005):
        step = teacher_step(INTERP, solver, 0.6, 0.6 - dt, x)
        errors.append(np.max(np.abs(step - INTERP.flow_map(x, 0.6, 0.6 - dt))))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all(np.abs(np.log2(ratios) - order) < 0.3), (solver, errors)
    with pytest.raises(ValueError, match="unknown solver 'midpoint'"):
        teacher_step(INTERP, "midpoint", 0.6, 0.5, x)


@pytest.mark.parametrize(("solver", "order"), [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_teacher_step_in_substeps_has_the_global_error_order_of_its_solver(solver, order):
    # n equal steps over one interval: n local errors of (dt / n)^(order + 1) add up to
    # dt^(order + 1) / n^order, so doubling n divides the error by 2^order; one substep is one step
    x = np.linspace(-2.5, 3.5, 13)
    errors = []
    for substeps in (4, 8, 16):  # where the flow is smooth enough for the order to show at these steps
        end = teacher_step(INTERP, solver, 0.9, 0.5, x, substeps)
        errors.append(np.max(np.abs(end - INTERP.flow_map(x, 0.9, 0.5))))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all(np.abs(np.log2(ratios) - order) < 0.3), (solver, errors)
    np.testing.assert_array_equal(teacher_step(INTERP, solver, 0.7, 0.2, x, 1), teacher_step(INTERP, solver, 0.7, 0.2, x))
    with pytest.raises(ValueError, match="substeps must be a positive integer, got 0"):
        teacher_step(INTERP, solver, 0.7, 0.2, x, 0)
    with pytest.raises(TypeError, match="substeps must be an integer, got 2.0"):
        teacher_step(INTERP, solver, 0.7, 0.2, x, 2.0)


@pytest.mark.parametrize("method", ["ct", "cd", "ict"])
def test_a_short_run_improves_w1_over_the_untrained_model(method):
    config = TrainConfig(method=method, lr=5e-3, **QUICK)
    untrained = ConsistencyModel.initialise(INTERP, config.mlp, np.random.default_rng(config.seed))  # QUICK sets mlp
    w1_before = wasserstein1(sample(untrained, np.random.default_rng(1), 20_000), INTERP.target)
    model, history = train(INTERP, config)
    w1_after = wasserstein1(sample(model, np.random.default_rng(1), 20_000), INTERP.target)
    assert w1_after < 0.6 * w1_before
    assert history["loss"].shape == (600,) and np.all(np.isfinite(history["loss"]))
    assert history["evals"][-1]["step"] == 600


def test_the_same_seed_gives_the_same_model_bit_for_bit():
    config = TrainConfig(method="ct", eval_ema=0.9, **{**QUICK, "steps": 150})
    a, history_a = train(INTERP, config)
    b, history_b = train(INTERP, config)
    assert np.array_equal(a.params.flat, b.params.flat)
    assert np.array_equal(history_a["loss"], history_b["loss"])
    c, _ = train(INTERP, TrainConfig(method="ct", seed=1, eval_ema=0.9, **{**QUICK, "steps": 150}))
    assert not np.array_equal(a.params.flat, c.params.flat)
    qmc = TrainConfig(method="ct", sampling="qmc", **{**QUICK, "steps": 150})
    assert np.array_equal(train(INTERP, qmc)[0].params.flat, train(INTERP, qmc)[0].params.flat)


def test_callback_sees_every_evaluation():
    seen = []
    config = TrainConfig(method="cd", eval_every=50, **{**QUICK, "steps": 150})
    _, history = train(INTERP, config, callback=lambda step, model, hist: seen.append((step, len(hist["evals"]))))
    assert seen == [(50, 1), (100, 2), (150, 3)]
    assert {"w1_1step", "w1_2step", "flow_map_error", "seconds"} <= set(history["evals"][0])


def test_max_seconds_stops_early():
    _, history = train(INTERP, TrainConfig(max_seconds=1e-9, **QUICK))
    assert history["steps_done"] == 1 and history["loss"].shape == (1,)


def test_train_checks_its_arguments():
    with pytest.raises(TypeError, match="Interpolant"):
        train(cmtoy.SEED_MIXTURE, TrainConfig())
    with pytest.raises(TypeError, match="TrainConfig"):
        train(INTERP, {"method": "ct"})
