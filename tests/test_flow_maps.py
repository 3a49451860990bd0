"""The flow-map model X_theta(t, s, x), its losses, composition sampling and two-time metrics."""

import dataclasses

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from scipy.special import expit

import cmtoy
from cmtoy import mlp
from cmtoy.flow_map_losses import (TEACHER_FORMS, DistillationBatches, MeanFlowBatches, SelfDistillationBatches,
                                   sample_times, time_pairs)
from cmtoy.flow_maps import FlowMapModel
from cmtoy.sampling import compose

H = 1e-6
SMALL = mlp.MLPConfig(width=8, depth=2, n_fourier=2, n_times=2)
INTERP = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)


def random_model(schedule="linear", seed=0, config=SMALL, scale=0.5):
    """A model with every weight random (biases too), so no derivative is trivially zero."""
    params = mlp.init_params(config, np.random.default_rng(seed))
    params.flat[:] = scale * np.random.default_rng(seed + 1).standard_normal(params.flat.size)
    return FlowMapModel(schedule, 1.2, params)


def random_pairs(n=9, seed=3):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.05, 1.0, n)
    return t, t * rng.uniform(0.0, 1.0, n), rng.standard_normal(n)


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


# -- the model ---------------------------------------------------------------------------


def test_the_diagonal_is_the_identity_bit_for_bit_whatever_the_weights():
    model = random_model(scale=3.0)
    x = np.random.default_rng(0).standard_normal(50) * 5
    t = np.random.default_rng(1).uniform(0, 1, 50)
    assert np.array_equal(model.flow_map(x, t, t), x)
    assert not np.allclose(model.flow_map(x, t, 0.5 * t), x)  # off the diagonal it moves


def test_the_consistency_function_is_the_s_zero_slice():
    model = random_model()
    t, _, x = random_pairs()
    np.testing.assert_array_equal(model(t, x), model.flow_map(x, t, 0.0))
    assert model(0.0, 1.5) == 1.5  # f(0, x) = x: the boundary condition of a consistency model


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("direction", ["t", "s", "x", "all"])
def test_velocity_jvp_matches_finite_differences(schedule, direction):
    model = random_model(schedule, seed=4)
    t, s, x = random_pairs(seed=5)
    d = np.random.default_rng(6).standard_normal((3, t.size))
    d_t, d_s, d_x = (d[i] if direction in (name, "all") else np.zeros(t.size) for i, name in enumerate("tsx"))
    u, du, _ = model.velocity_jvp(model.params, t, s, x, d_t, d_s, d_x)

    def u_at(h):
        return model.velocity(model.params, t + h * d_t, s + h * d_s, x + h * d_x)[0]

    expected = (u_at(H) - u_at(-H)) / (2 * H)
    assert np.linalg.norm(expected) > 1e-3, "finite-difference derivative ~0: the test is void"
    np.testing.assert_array_equal(u, u_at(0.0))
    assert relative_error(du, expected) < 1e-6


def test_backward_matches_finite_differences():
    model = random_model(seed=7)
    t, s, x = random_pairs(seed=8)
    w = np.random.default_rng(9).standard_normal(t.size)
    _, cache = model.velocity(model.params, t, s, x)
    grads = model.backward(model.params, cache, w)
    expected = np.empty_like(grads.flat)
    for i in range(expected.size):
        plus, minus = model.params.copy(), model.params.copy()
        plus.flat[i] += H
        minus.flat[i] -= H
        expected[i] = (w @ model.velocity(plus, t, s, x)[0] - w @ model.velocity(minus, t, s, x)[0]) / (2 * H)
    assert np.linalg.norm(expected) > 1e-3
    assert relative_error(grads.flat, expected) < 1e-6


@pytest.mark.parametrize("t, s, match", [(0.3, 0.5, "needs s <= t, got t=0.3 and s=0.5"),
                                         (1.5, 0.5, "t must lie in"), (0.5, -0.1, "s must lie in")])
def test_flow_map_refuses_times_that_are_not_a_pair(t, s, match):
    with pytest.raises(ValueError, match=match):
        random_model().flow_map(0.0, t, s)


def test_a_flow_map_needs_a_two_time_network_and_a_consistency_model_a_one_time_one():
    with pytest.raises(ValueError, match="n_times=2.*got n_times=1"):
        FlowMapModel("linear", 1.0, mlp.init_params(mlp.MLPConfig(width=4, depth=1), np.random.default_rng(0)))
    with pytest.raises(ValueError, match="one time.*got n_times=2"):
        cmtoy.ConsistencyModel("linear", 1.0, random_model().params)
    with pytest.raises(ValueError, match="n_times=2"):
        cmtoy.train(INTERP, cmtoy.TrainConfig(method="meanflow", steps=2, mlp=mlp.MLPConfig(width=4), progress=False))


def test_save_and_load_round_trip_to_a_flow_map_model(tmp_path):
    model = random_model("cosine", seed=11)
    model.save(tmp_path / "m.npz", extra={"note": 1})
    loaded = cmtoy.load_model(tmp_path / "m.npz")
    assert isinstance(loaded, FlowMapModel) and loaded.schedule.name == "cosine"
    t, s, x = random_pairs()
    np.testing.assert_array_equal(loaded.flow_map(x, t, s), model.flow_map(x, t, s))
    reference = cmtoy.load_model("figures/reference_model.npz")  # the one-time kind still loads
    assert isinstance(reference, cmtoy.ConsistencyModel)


# -- the identities the losses impose, on the exact map ------------------------------------


def exact_average_velocity(t, s, x):
    return (x - INTERP.flow_map(x, t, s)) / (t - s)


def test_the_exact_map_satisfies_the_meanflow_identity_in_cmtoys_time_direction():
    """u = v_t(x) - (t - s)(d_t u + v_t(x) d_x u): the Eulerian condition that "meanflow" imposes."""
    t, s = np.array([0.9, 0.6, 0.4]), np.array([0.2, 0.1, 0.35])
    x = np.array([0.3, -0.5, 1.0])
    v, h = INTERP.velocity(t, x), 1e-5
    u = exact_average_velocity(t, s, x)
    du_dt = (exact_average_velocity(t + h, s, x + h * v) - exact_average_velocity(t - h, s, x - h * v)) / (2 * h)
    np.testing.assert_allclose(u, v - (t - s) * du_dt, rtol=1e-5, atol=1e-6)
    assert np.all(np.abs((t - s) * du_dt) > 1e-3)  # the correction matters: not a void check


def test_the_exact_map_satisfies_the_lagrangian_identity_that_fmd_imposes():
    """u = v_s(h_{t->s}(x)) + (t - s) d_s u."""
    t, s = np.array([0.9, 0.6, 0.4]), np.array([0.2, 0.1, 0.1])
    x = np.array([0.3, -0.5, 1.0])
    h = 1e-5
    du_ds = (exact_average_velocity(t, s + h, x) - exact_average_velocity(t, s - h, x)) / (2 * h)
    lhs = exact_average_velocity(t, s, x)
    np.testing.assert_allclose(lhs, INTERP.velocity(s, INTERP.flow_map(x, t, s)) + (t - s) * du_ds, rtol=1e-5)
    assert np.all(np.abs((t - s) * du_ds) > 1e-3)


def test_the_teacher_hop_target_of_the_exact_map_is_the_exact_average_velocity():
    """X(t, s, x) = Phi_{r->s}(X(t, r, x)): with the exact map, only the Heun hop errs, O(h^3)."""
    from cmtoy.pairs import teacher_step

    t, s, x = np.array([0.9, 0.6, 0.3]), np.array([0.2, 0.1, 0.29]), np.array([0.3, -0.5, 1.0])
    for hop, substeps in ((0.05, 1), (0.02, 1), (0.25, 5)):  # n Heun substeps: n (h / n)^3 = h^3 / n^2
        r = np.minimum(t, s + hop)
        x_s = teacher_step(INTERP, "heun", r, s, INTERP.flow_map(x, t, r), substeps)
        np.testing.assert_allclose((x - x_s) / (t - s), exact_average_velocity(t, s, x),
                                   atol=20 * hop**3 / substeps**2 / 0.1)
    r = np.minimum(t, s + 0.25)  # fmd's default teacher: two RK4 steps, n (h / n)^5 = h^5 / n^4
    x_s = teacher_step(INTERP, "rk4", r, s, INTERP.flow_map(x, t, r), 2)
    np.testing.assert_allclose((x - x_s) / (t - s), exact_average_velocity(t, s, x), atol=20 * 0.25**5 / 2**4 / 0.1)


def test_the_eulerian_hop_target_of_the_exact_map_is_the_exact_average_velocity():
    """X(t, s, x) = X(r, s, Phi_{t->r}(x)): with the exact map, only the Heun hop errs, O(h^3)."""
    from cmtoy.pairs import teacher_step

    t, s, x = np.array([0.9, 0.6, 0.3]), np.array([0.2, 0.1, 0.29]), np.array([0.3, -0.5, 1.0])
    for hop, substeps in ((0.05, 1), (0.02, 1), (0.25, 5)):
        r = np.maximum(s, t - hop)
        x_s = INTERP.flow_map(teacher_step(INTERP, "heun", t, r, x, substeps), r, s)
        np.testing.assert_allclose((x - x_s) / (t - s), exact_average_velocity(t, s, x),
                                   atol=20 * hop**3 / substeps**2 / 0.1)


def test_the_average_velocity_of_a_jump_is_its_displacement_over_its_length_and_the_velocity_at_s_t():
    from cmtoy.flow_map_losses import average_velocity

    t, s = np.array([0.9, 0.5, 0.4]), np.array([0.1, 0.5, 0.3])
    u = average_velocity(t, s, np.array([1.6, 7.0, -0.05]), np.array([9.0, 2.5, 9.0]))
    np.testing.assert_allclose(u, [2.0, 2.5, -0.5], rtol=1e-12)  # s = t: the velocity given, not 7 / 0


@pytest.mark.parametrize("method", ["meanflow", "psd"])
def test_the_batch_velocity_is_drawn_where_the_target_uses_a_velocity(method):
    """meanflow's target holds v at every pair, psd's only on the diagonal: the velocity of
    the batch's data there, the pair's own v_hat elsewhere, on the same draws."""
    from cmtoy.continuous import batch_velocity

    model = random_model(seed=4)

    def batches(estimate):
        config = resolved(method, batch=64, velocity_estimate=estimate)
        return BATCHES[method](INTERP, config, model, np.random.default_rng(6))

    _, _, n, x_t, v_hat = batches("conditional").draw()
    t, _, n_again, x_again, v = batches("batch").draw(diagonal_only=method == "psd")
    assert n == n_again and 0 < n < 64
    np.testing.assert_array_equal(x_again, x_t)
    again = batches("batch")  # the same draws once more, up to the batch's data x_0
    x_0 = INTERP.target.sample(again.rng, again.times()[0].size)
    rows = slice(0, n) if method == "psd" else slice(None)
    np.testing.assert_allclose(v[rows], batch_velocity(INTERP.schedule, t[rows], x_t[rows], x_0, v_hat[rows]),
                               rtol=1e-12)
    assert np.all(v[:n] != v_hat[:n])
    if method == "psd":
        np.testing.assert_array_equal(v[n:], v_hat[n:])


@pytest.mark.parametrize("form", TEACHER_FORMS)
def test_fmds_teacher_substeps_and_solver_reach_its_loss_off_the_diagonal(form):
    """Over a long hop, other solver steps move the teacher's point and so the loss; on the
    diagonal there is no hop, so they cannot."""
    model = random_model(seed=5)
    losses = {}
    teachers = ((1, "heun"), (4, "heun"), (4, "rk4"))
    for teacher in teachers:
        for share in (0.0, 1.0):
            config = resolved("fmd", teacher_form=form, teacher_hop=0.3, teacher_substeps=teacher[0],
                              teacher_solver=teacher[1], diagonal_share=share)
            batches = DistillationBatches(INTERP, config, model, np.random.default_rng(3))
            losses[teacher, share] = batches.loss(0, model.params, model.params, model.params.copy())[0]
    assert len({losses[teacher, 1.0] for teacher in teachers}) == 1
    off = [losses[teacher, 0.0] for teacher in teachers]
    assert min(abs(a - b) for i, a in enumerate(off) for b in off[i + 1:]) > 1e-6 * off[0]


def test_the_two_forms_of_fmd_give_different_targets_and_the_same_one_on_the_diagonal():
    """The hop is taken in s (Lagrangian) or in t (Eulerian): the losses differ off the diagonal only."""
    model = random_model(seed=5)
    losses = {}
    for form in TEACHER_FORMS:
        for share in (0.0, 1.0):
            config = resolved("fmd", teacher_form=form, diagonal_share=share)
            batches = DistillationBatches(INTERP, config, model, np.random.default_rng(3))
            losses[form, share] = batches.loss(0, model.params, model.params, model.params.copy())[0]
    assert losses["lagrangian", 1.0] == losses["eulerian", 1.0]
    assert abs(losses["lagrangian", 0.0] - losses["eulerian", 0.0]) > 1e-6 * losses["lagrangian", 0.0]


# -- the losses --------------------------------------------------------------------------

BATCHES = {"meanflow": MeanFlowBatches, "psd": SelfDistillationBatches, "fmd": DistillationBatches}


def resolved(method, **kwargs):
    """A resolved config with a small float64 network (the finite differences need float64)."""
    return cmtoy.TrainConfig(**{"method": method, "batch": 12, "mlp": SMALL, "progress": False, **kwargs}).resolved()


def central_differences(loss, params):
    """d loss / d params.flat by central differences, one weight at a time. -> [n_params]"""
    grad = np.empty_like(params.flat)
    for i in range(grad.size):
        plus, minus = params.copy(), params.copy()
        plus.flat[i] += H
        minus.flat[i] -= H
        grad[i] = (loss(plus) - loss(minus)) / (2 * H)
    return grad


@pytest.mark.parametrize("method, options", [
    ("meanflow", {}), ("psd", {}), ("fmd", {"teacher_hop": 0.02}), ("fmd", {"teacher_hop": 0.0}),
    ("fmd", {"teacher_hop": 0.02, "teacher_form": "eulerian"}), ("fmd", {"teacher_hop": 0.0, "teacher_form": "eulerian"}),
    ("fmd", {"teacher_hop": 0.3, "teacher_substeps": 3}), ("fmd", {"teacher_hop": 0.3, "teacher_substeps": 3, "teacher_form": "eulerian"})])
def test_each_loss_gradient_matches_finite_differences_with_the_target_held(method, options):
    config = resolved(method, adaptive_p=0.0, **options)
    model = random_model(seed=13)
    target = model.params.copy()  # the stop-gradient side, held fixed

    def loss(params, out=None):
        batches = BATCHES[method](INTERP, config, model, np.random.default_rng(14))  # the same batch
        return batches.loss(0, params, target, out if out is not None else params.copy())

    value, grads = loss(model.params)
    expected = central_differences(lambda p: loss(p)[0], model.params)
    assert np.linalg.norm(expected) > 1e-3
    assert relative_error(grads.flat, expected) < 1e-5
    # with no EMA target the target *is* the online network: the same numbers in one pass
    same_value, same_grads = BATCHES[method](INTERP, config, model, np.random.default_rng(14)).loss(
        0, model.params, model.params, model.params.copy())
    assert same_value == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(same_grads.flat, grads.flat, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("form", TEACHER_FORMS)
def test_fmds_residual_loss_gradient_matches_finite_differences_through_everything(form):
    """stop_gradient=False: the loss is mean R^2 of the continuous condition, a function of the
    weights alone (the target side moves with them); its value is the stop-gradient loss's,
    its gradient is not."""
    config = resolved("fmd", teacher_hop=0.0, teacher_form=form, stop_gradient=False, adaptive_p=0.0)
    held = dataclasses.replace(config, stop_gradient=True)
    model = random_model(seed=15)

    def loss(params, settings=config):
        batches = DistillationBatches(INTERP, settings, model, np.random.default_rng(16))  # the same batch
        return batches.loss(0, params, params, params.copy())

    value, grads = loss(model.params)
    expected = central_differences(lambda p: loss(p)[0], model.params)
    assert np.linalg.norm(expected) > 1e-3
    assert relative_error(grads.flat, expected) < 1e-5
    held_value, held_grads = loss(model.params, held)
    assert held_value == pytest.approx(value, rel=1e-12)
    assert relative_error(held_grads.flat, grads.flat) > 0.05


def test_the_adaptive_weight_is_held_fixed_in_the_gradient():
    """MeanFlow's loss sg(w) |error|^2, w = 1 / (|error|^2 + c)^p: d loss / d u = 2 w error / B."""
    from cmtoy.flow_map_losses import ADAPTIVE_C, regression_loss

    class Identity:  # backward returns d loss / d u itself
        def backward(self, params, cache, d_u, out=None):
            return d_u

    error = np.array([0.0, 0.01, -0.3, 2.0])
    for p in (0.0, 0.5, 1.0):
        w = (error**2 + ADAPTIVE_C) ** -p
        loss, d_u = regression_loss(Identity(), None, None, error, p, None)
        assert loss == pytest.approx(np.mean(w * error**2), rel=1e-14)
        np.testing.assert_allclose(d_u, 2 * w * error / 4, rtol=1e-14)
    # p = 1 makes large errors count like |error|: their share of the gradient shrinks
    assert abs(regression_loss(Identity(), None, None, error, 1.0, None)[1][3]) < 1.0


def test_the_time_pairs_are_ordered_with_the_asked_share_on_the_diagonal():
    config = resolved("meanflow", diagonal_share=0.25, batch=400)
    t, s, n = time_pairs(config, INTERP.schedule, np.random.default_rng(0))
    assert n == 100 and np.array_equal(t[:n], s[:n]) and np.all(s[n:] < t[n:])
    assert t.max() > 0.99  # uniform draws reach the one-step map's t = 1



def test_the_slice_share_moves_that_share_of_the_other_pairs_to_s_0_and_nothing_else():
    plain = time_pairs(resolved("fmd", diagonal_share=0.25, noise_share=0.0, batch=400), INTERP.schedule,
                       np.random.default_rng(0))
    t, s, n = time_pairs(resolved("fmd", diagonal_share=0.25, slice_share=0.4, noise_share=0.0, batch=400),
                         INTERP.schedule, np.random.default_rng(0))
    assert n == plain[2] == 100 and np.array_equal(t, plain[0])  # the same draws
    assert np.array_equal(s[:n], t[:n]) and np.all(s[n:n + 120] == 0.0)  # 0.4 of the other 300
    assert np.array_equal(s[n + 120:], plain[1][n + 120:]) and np.all(plain[1][n:] > 0.0)


def test_the_noise_share_moves_that_share_of_the_other_pairs_after_the_slice_to_t_1_and_nothing_else():
    plain = time_pairs(resolved("fmd", diagonal_share=0.25, slice_share=0.2, noise_share=0.0, batch=400),
                       INTERP.schedule, np.random.default_rng(0))
    t, s, n = time_pairs(resolved("fmd", diagonal_share=0.25, slice_share=0.2, noise_share=0.3, batch=400),
                         INTERP.schedule, np.random.default_rng(0))
    assert n == plain[2] == 100 and np.array_equal(s, plain[1])  # every s as drawn, the slice's 0 included
    assert np.all(t[n + 60:n + 150] == 1.0) and np.all(plain[0][n + 60:n + 150] < 1.0)  # 0.3 of the other 300
    keep = np.r_[0:n + 60, n + 150:400]
    assert np.array_equal(t[keep], plain[0][keep])


def test_nested_pairs_draw_s_uniformly_below_t_and_keep_the_diagonal_and_the_slice():
    config = resolved("meanflow", diagonal_share=0.25, slice_share=0.2, batch=40_000, pair_draw="sorted")
    sorted_pairs = time_pairs(config, INTERP.schedule, np.random.default_rng(0))
    t, s, n = time_pairs(dataclasses.replace(config, pair_draw="nested"), INTERP.schedule, np.random.default_rng(0))
    assert n == sorted_pairs[2] == 10_000 and np.array_equal(t[:n], sorted_pairs[0][:n])  # the same diagonal
    assert np.array_equal(s[:n], t[:n]) and np.all(s[n:n + 6000] == 0.0)  # 0.2 of the other 30,000
    t_off, w = t[n + 6000:], s[n + 6000:] / t[n + 6000:]
    assert np.all((0.0 <= w) & (w <= 1.0))
    # t one uniform draw (not the later of two, whose density is 2t), and s / t uniform, independent of t
    for sample in (t_off, w):
        assert scipy.stats.kstest(sample, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(t_off, w)[0, 1]) < 0.03
    assert scipy.stats.kstest(sorted_pairs[0][n + 6000:], "uniform").pvalue < 1e-6  # "sorted" is not uniform


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_lognormal_times_solve_the_log_ratio(schedule):
    config = resolved("meanflow", time_distribution="lognormal", p_mean=-0.4, p_std=1.0)
    sched = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, schedule).schedule
    t = sample_times(config, sched, np.random.default_rng(1), 200)
    z = -0.4 + 1.0 * np.random.default_rng(1).standard_normal(200)
    np.testing.assert_allclose(np.log(sched.sigma(t) / sched.alpha(t)), z, atol=1e-9)
    if schedule == "linear":  # the MeanFlow paper's logit-normal
        np.testing.assert_allclose(t, expit(z), atol=1e-12)


# -- training ----------------------------------------------------------------------------


@pytest.mark.parametrize("method, options", [(method, {}) for method in sorted(BATCHES)] + [
    ("fmd", dict(teacher_hop=0.0, teacher_form="eulerian", stop_gradient=False, adaptive_p=0.0))])  # the Eulerian residual loss
def test_each_method_learns_the_map_and_is_deterministic(method, options):
    config = cmtoy.TrainConfig(method=method, steps=1500, warmup=100, seed=3, progress=False,
                               mlp=mlp.MLPConfig(width=32, depth=2, n_fourier=4, n_times=2), **options)
    untrained = FlowMapModel.initialise(INTERP, config.resolved().mlp, np.random.default_rng(3))
    model, history = cmtoy.train(INTERP, config)
    again, _ = cmtoy.train(INTERP, config)
    np.testing.assert_array_equal(model.params.flat, again.params.flat)
    error, before = cmtoy.two_time_error(model, INTERP, n=4000), cmtoy.two_time_error(untrained, INTERP, n=4000)
    assert error < 0.5 * before, (error, before)
    assert np.mean(history["loss"][-100:]) < np.mean(history["loss"][:100])


REFUSED = [  # (what the message must say, the settings)
    ("diagonal_share", dict(method="meanflow", diagonal_share=1.5)),
    ("adaptive_p", dict(method="meanflow", adaptive_p=-1.0)),
    ("intermediate.*'uniform', 'midpoint'", dict(method="psd", intermediate="left")),
    ("does not use intermediate", dict(method="meanflow", intermediate="midpoint")),
    ("does not use diagonal_share", dict(method="ct", diagonal_share=0.5)),
    ("does not use teacher_hop", dict(method="psd", teacher_hop=0.1)),
    ("teacher_hop", dict(method="fmd", teacher_hop=-0.1)),
    ("teacher_substeps must be a positive integer", dict(method="fmd", teacher_substeps=0)),
    ("does not use teacher_substeps", dict(method="psd", teacher_substeps=2)),
    ("teacher_substeps integrates fmd's teacher hop.*teacher_hop=0.0.*got 3", dict(method="fmd", teacher_hop=0.0, teacher_substeps=3)),
    ("teacher_solver must be one of 'euler', 'heun', 'rk4'; got 'midpoint'", dict(method="fmd", teacher_solver="midpoint")),
    ("does not use teacher_solver", dict(method="cd", teacher_solver="rk4")),
    ("teacher_solver integrates fmd's teacher hop.*teacher_hop=0.0.*got 'heun'", dict(method="fmd", teacher_hop=0.0, teacher_solver="heun")),
    ("teacher_form must be one of 'lagrangian', 'eulerian'; got 'sideways'", dict(method="fmd", teacher_form="sideways")),
    ("does not use teacher_form", dict(method="meanflow", teacher_form="eulerian")),
    ("stop_gradient=False .* needs teacher_hop=0.0, got teacher_hop=0.25", dict(method="fmd", stop_gradient=False)),
    ("does not use stop_gradient", dict(method="meanflow", stop_gradient=False)),
    ("stop_gradient=False .* needs ema=0.0, got ema=0.9", dict(method="fmd", teacher_hop=0.0, stop_gradient=False, adaptive_p=0.0, ema=0.9)),
    ("stop_gradient=False .* needs adaptive_p=0.0, got adaptive_p=0.5", dict(method="fmd", teacher_hop=0.0, stop_gradient=False)),
    ("slice_share", dict(method="psd", slice_share=1.5)),
    ("noise_share", dict(method="fmd", noise_share=-0.1)),
    ("does not use noise_share", dict(method="ict", noise_share=0.5)),
    ("slice_share \\+ noise_share must be <= 1.*slice_share=0.6, noise_share=0.5", dict(method="fmd", slice_share=0.6, noise_share=0.5)),
    ("pair_draw must be one of 'sorted', 'nested'; got 'random'", dict(method="meanflow", pair_draw="random")),
    ("does not use pair_draw", dict(method="sct", pair_draw="nested")),
    ("does not use slice_share", dict(method="ct", slice_share=0.5)),
    ("velocity_estimate must be one of 'conditional', 'batch'", dict(method="psd", velocity_estimate="exact")),
    ("does not use velocity_estimate", dict(method="fmd", velocity_estimate="batch")),
]


@pytest.mark.parametrize("message, settings", REFUSED)
def test_flow_map_settings_are_validated_and_refused_where_unused(message, settings):
    with pytest.raises(ValueError, match=message):
        cmtoy.TrainConfig(**settings)


def test_stop_gradient_is_a_flag():
    with pytest.raises(TypeError, match="stop_gradient must be True or False, got 0"):
        cmtoy.TrainConfig(method="fmd", teacher_hop=0.0, stop_gradient=0)
    assert cmtoy.TrainConfig(method="fmd").resolved().stop_gradient is True


def test_every_flow_map_method_trains_a_two_time_network():
    for method in ("meanflow", "psd", "fmd"):
        assert cmtoy.TrainConfig(method=method).resolved().mlp.n_times == 2


# -- sampling and metrics ------------------------------------------------------------------


@pytest.mark.parametrize("times", [(1.0,), (1.0, 0.5), (1.0, 0.75, 0.5, 0.25)])
def test_composing_the_exact_map_reaches_the_noise_floor_in_any_number_of_steps(times):
    exact = cmtoy.ExactModel(INTERP)
    samples = cmtoy.sample(exact, np.random.default_rng(0), 100_000, times=times, chain="compose")
    one = cmtoy.sample(exact, np.random.default_rng(0), 100_000)
    np.testing.assert_allclose(samples, one, atol=1e-6)  # one flow line, however many jumps
    assert cmtoy.wasserstein1(samples, INTERP.target) < 0.01


def test_composition_jumps_along_the_times_with_the_same_noise():
    model = random_model()
    x_1 = np.random.default_rng(5).standard_normal(20)
    x, path = cmtoy.sample(model, np.random.default_rng(5), 20, times=(1.0, 0.6), chain="compose", return_path=True)
    np.testing.assert_array_equal(path[0], model.flow_map(x_1, 1.0, 0.6))
    np.testing.assert_array_equal(x, model.flow_map(path[0], 0.6, 0.0))
    assert path.shape == (2, 20)
    np.testing.assert_array_equal(cmtoy.sample(model, np.random.default_rng(5), 20), model(1.0, x_1))


def test_composition_needs_a_flow_map_and_a_known_chain():
    one_time = cmtoy.load_model("figures/reference_model.npz")
    with pytest.raises(TypeError, match="two-time model with flow_map.*got ConsistencyModel; chain='compose' needs one.*'renoise'"):
        cmtoy.sample(one_time, np.random.default_rng(0), 5, chain="compose")
    with pytest.raises(ValueError, match="unknown chain 'teleport'.*'renoise', 'compose'"):
        cmtoy.sample(random_model(), np.random.default_rng(0), 5, chain="teleport")


def test_two_time_errors_are_zero_for_the_exact_map_and_positive_for_a_random_one():
    exact, model = cmtoy.ExactModel(INTERP), random_model()
    assert cmtoy.two_time_error(exact, INTERP, n=2000) < 1e-9
    assert cmtoy.two_time_error(model, INTERP, n=2000) > 0.05
    ts = np.linspace(0.0, 1.0, 5)
    grid = cmtoy.two_time_error_grid(model, INTERP, ts, n=64)
    assert grid.shape == (5, 5)
    assert np.all(np.isnan(grid[np.triu_indices(5, 1)]))
    np.testing.assert_array_equal(np.diag(grid), 0.0)
    assert np.all(grid[np.tril_indices(5, -1)] > 0)
    np.testing.assert_array_equal(grid, cmtoy.two_time_error_grid(model, INTERP, ts, n=64))  # no sampling noise
    assert np.nanmax(cmtoy.two_time_error_grid(exact, INTERP, ts, n=64)) < 1e-9
    with pytest.raises(TypeError, match="flow_map"):
        cmtoy.two_time_error(cmtoy.load_model("figures/reference_model.npz"), INTERP)


class _Perturbed:
    """The exact flow map with ``bend(x)`` added on the last jump (the one that ends at s = 0)."""

    def __init__(self, bend):
        self.exact, self.bend = cmtoy.ExactModel(INTERP), bend

    def flow_map(self, x, t, s):
        y = self.exact.flow_map(x, t, s)
        return np.where(s == 0.0, y + self.bend(y), y)


def test_composition_w1_is_the_w1_of_the_law_not_of_a_sample():
    exact = cmtoy.ExactModel(INTERP)
    floor = {n: cmtoy.composition_w1(exact, INTERP, (1.0, 0.5), n=n) for n in (1000, 10_000)}
    assert floor[10_000] < 1e-4 and floor[10_000] < floor[1000] / 5  # about 1/n, not 1/sqrt(n)
    sampled = cmtoy.wasserstein1(cmtoy.sample(exact, np.random.default_rng(0), 10_000, times=(1.0, 0.5), chain="compose"),
                                 INTERP.target)
    assert sampled > 20 * floor[10_000]  # the sampling floor that composition_w1 does without
    # a shift of the law by c is W1 = |c|, and x + 0.2 tanh(x), monotone, is the quantile coupling
    # E|0.2 tanh(X)| for X ~ target, here by quadrature of each component's density
    assert cmtoy.composition_w1(_Perturbed(lambda y: np.full_like(y, -0.3)), INTERP, (1.0, 0.6, 0.2)) == pytest.approx(0.3, abs=1e-4)
    mix = INTERP.target
    coupling = sum(w * scipy.integrate.quad(lambda y: 0.2 * abs(np.tanh(y)) * scipy.stats.norm.pdf(y, m, sd),
                                            m - 12 * sd, m + 12 * sd, points=[0.0] if abs(m) < 12 * sd else None)[0]
                   for m, sd, w in zip(mix.means, mix.stds, mix.weights))
    bent = _Perturbed(lambda y: 0.2 * np.tanh(y))
    assert cmtoy.composition_w1(bent, INTERP, (1.0,)) == pytest.approx(coupling, abs=1e-4)
    # what sample() draws from: the mean of sample W1s over many draws is near it, not near 0
    draws = [cmtoy.wasserstein1(compose(bent, np.random.default_rng(k).standard_normal(20_000), np.ones(1))[-1], mix)
             for k in range(4)]
    assert abs(np.mean(draws) - coupling) < 0.1 * coupling


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(times=(0.5,)), ValueError, "times must start at 1.0"),
    (dict(times=(1.0, 0.5, 0.7)), ValueError, "strictly decreasing"),
    (dict(n=0), ValueError, "n"),
    (dict(n=2.5), TypeError, "n"),
])
def test_composition_w1_rejects_bad_times_and_counts(kwargs, error, match):
    with pytest.raises(error, match=match):
        cmtoy.composition_w1(cmtoy.ExactModel(INTERP), INTERP, **kwargs)


def test_composition_w1_rejects_a_one_time_model_and_a_bare_mixture():
    with pytest.raises(TypeError, match="flow_map"):
        cmtoy.composition_w1(cmtoy.load_model("figures/reference_model.npz"), INTERP)
    with pytest.raises(TypeError, match="Interpolant"):
        cmtoy.composition_w1(cmtoy.ExactModel(INTERP), INTERP.target)


@pytest.mark.parametrize("call", [
    lambda m: cmtoy.sample(m, np.random.default_rng(0), 5, chain="compose"),
    lambda m: cmtoy.composition_w1(m, INTERP),
    lambda m: cmtoy.two_time_error(m, INTERP),
    lambda m: cmtoy.two_time_error_grid(m, INTERP, [0.0, 1.0]),
], ids=["sample-compose", "composition_w1", "two_time_error", "two_time_error_grid"])
def test_every_two_time_entry_point_refuses_a_one_time_model_alike(call):
    # one check of one condition: the same error type and wording wherever a flow map is needed
    with pytest.raises(TypeError, match=r"model must be a two-time model with flow_map\(x, t, s\).*got ConsistencyModel"):
        call(cmtoy.load_model("figures/reference_model.npz"))
