"""One loop for every method: a method registered from outside trains; runs that blow up stop."""

import inspect

import numpy as np
import pytest

import cmtoy
from cmtoy import training
from cmtoy.consistency import ConsistencyModel
from cmtoy.interpolant import Interpolant
from cmtoy.metrics import flow_map_error
from cmtoy.mlp import MLPConfig
from cmtoy.training import METHODS, TrainConfig, train

INTERP = Interpolant(cmtoy.SEED_MIXTURE)
SMALL = MLPConfig(width=16, depth=2, n_fourier=4)


class Regression:
    """A toy method: least squares to the exact f* at t ~ U[0, 1], x_t ~ p_t.

    ``loss(k)`` may be replaced to make a run fail on purpose.
    """

    def __init__(self, **defaults):
        self.defaults = {**METHODS["cd"].defaults, "steps": 300, "lr": 1e-2, "warmup": 10, "mlp": SMALL, **defaults}

    def initialise(self, interp, config, rng):
        return ConsistencyModel.initialise(interp, config.mlp, rng)

    def start(self, interp, config, model, rng):
        return RegressionBatches(self, interp, config, model, rng)

    def loss_of(self, k, loss):  # a hook for the tests below
        return loss


class RegressionBatches:
    def __init__(self, method, interp, config, model, rng):
        self.method, self.interp, self.config, self.model, self.rng = method, interp, config, model, rng
        self.status = {"toy": 1}

    def loss(self, k, params, target, out):
        t = self.rng.uniform(0.0, 1.0, self.config.batch)
        x = self.interp.sample(self.rng, self.config.batch, t)
        f, cache = self.model.forward(params, t, x)
        diff = f - self.interp.flow_map(x, t, 0.0)
        grads = self.model.backward(params, cache, 2.0 * diff / t.size, out=out)
        return self.method.loss_of(k, float(np.mean(diff * diff))), grads


def register(monkeypatch, method, name="toy"):
    monkeypatch.setitem(METHODS, name, method)
    return name


def test_a_method_registered_from_outside_trains_in_the_one_loop(monkeypatch):
    name = register(monkeypatch, Regression())
    config = TrainConfig(method=name, progress=False, eval_samples=2000)
    assert config.resolved().steps == 300 and config.resolved().mlp == SMALL  # its own defaults
    untrained = Regression().initialise(INTERP, config.resolved(), np.random.default_rng(0))
    model, history = train(INTERP, config)
    assert history["steps_done"] == 300
    assert history["loss"][-50:].mean() < 0.3 * history["loss"][:50].mean()
    rng = np.random.default_rng(2)
    assert flow_map_error(model, INTERP, n=4000, rng=rng) < 0.5 * flow_map_error(untrained, INTERP, n=4000, rng=rng)


def test_the_loop_names_no_method():
    source = inspect.getsource(training._train)
    assert not any(f'"{name}"' in source for name in METHODS)


def test_an_unknown_method_is_refused_until_registered(monkeypatch):
    with pytest.raises(ValueError, match="toy"):
        TrainConfig(method="toy")
    register(monkeypatch, Regression())
    assert TrainConfig(method="toy").method == "toy"


# -- divergence ----------------------------------------------------------------------------


def test_the_issues_example_lr_1e30_raises_naming_method_step_and_learning_rate():
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError) as error:
        train(INTERP, TrainConfig(method="cd", steps=300, lr=1e30, warmup=0, progress=False))
    message = str(error.value)
    assert "cd" in message and "learning rate 1e+30" in message
    assert "step 1 " in message  # the first step after the update that blew up
    assert "smaller TrainConfig.lr" in message


@pytest.mark.parametrize("method", ["ct", "cd"])
def test_a_finite_but_exploding_loss_raises(method):
    config = TrainConfig(method=method, steps=200, lr=10.0, warmup=0, batch=64, mlp=SMALL, progress=False)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match=rf"the {method} run diverged at step \d+ "
                                                                            r"\(learning rate 10.*running mean of the loss"):
        train(INTERP, config)


def test_weights_that_adam_keeps_growing_raise(monkeypatch):
    # a loss unbounded below (mean f): its gradient keeps its sign, so Adam moves every
    # weight by about lr each step, for ever
    class Unbounded(Regression):
        def start(self, interp, config, model, rng):
            batches = super().start(interp, config, model, rng)

            def loss(k, params, target, out):
                t = rng.uniform(0.0, 1.0, config.batch)
                f, cache = model.forward(params, t, interp.sample(rng, config.batch, t))
                return float(np.mean(f)), model.backward(params, cache, np.full(t.size, 1.0 / t.size), out=out)

            batches.loss = loss
            return batches

    name = register(monkeypatch, Unbounded())
    config = TrainConfig(method=name, steps=5000, lr=0.1, warmup=0, lr_decay="constant", progress=False)
    with pytest.raises(FloatingPointError, match=r"the toy run diverged at step \d+ \(learning rate 0.1.*norm of the "
                                                 r"weights grew"):
        train(INTERP, config)


def test_an_ict_learning_rate_that_inflates_the_weights_raises():
    # no EMA target and lr = 10: the weights grow hundreds of times while the loss stays finite
    config = TrainConfig(method="ict", steps=1000, lr=10.0, warmup=0, lr_decay="constant", batch=64,
                         mlp=MLPConfig(width=32, depth=2, n_fourier=8), progress=False)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match=r"ict run diverged.*norm of the weights grew"):
        train(INTERP, config)


def test_weights_that_turn_non_finite_at_the_last_step_raise_and_no_model_is_returned(monkeypatch):
    class NanAtTheEnd(Regression):
        def start(self, interp, config, model, rng):
            batches = super().start(interp, config, model, rng)
            fit = batches.loss

            def loss(k, params, target, out):
                value, grads = fit(k, params, target, out)
                if k == config.steps - 1:
                    grads.flat[3] = np.nan  # the loss is still finite: only the last update breaks
                return value, grads

            batches.loss = loss
            return batches

    name = register(monkeypatch, NanAtTheEnd())
    seen = []
    config = TrainConfig(method=name, steps=57, eval_every=20, progress=False, eval_samples=500)
    with pytest.raises(FloatingPointError, match=r"toy run diverged at step 56 .*weights became non-finite"):
        train(INTERP, config, callback=lambda step, model, history: seen.append(step))
    assert seen == [20, 40]  # the evaluations before the last step; none of the broken model


def test_a_non_finite_loss_mid_run_raises_with_its_step(monkeypatch):
    method = Regression()
    method.loss_of = lambda k, loss: float("inf") if k == 42 else loss
    name = register(monkeypatch, method)
    with pytest.raises(FloatingPointError, match=r"toy run diverged at step 42 \(learning rate .*the loss became inf"):
        train(INTERP, TrainConfig(method=name, progress=False))


def test_a_non_finite_loss_before_any_update_does_not_blame_the_learning_rate(monkeypatch):
    method = Regression()
    method.loss_of = lambda k, loss: float("nan")
    name = register(monkeypatch, method)
    with pytest.raises(FloatingPointError, match="untrained model is nan") as error:
        train(INTERP, TrainConfig(method=name, progress=False))
    assert "learning rate" not in str(error.value)


def test_a_huge_step_count_stopped_by_max_seconds_allocates_nothing_per_step():
    import tracemalloc

    config = TrainConfig(method="cd", steps=10**12, max_seconds=0.5, eval_samples=500, progress=False)
    tracemalloc.start()
    try:
        _, history = train(Interpolant(cmtoy.SEED_MIXTURE), config)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0 < history["steps_done"] < 10**6
    assert peak < 200e6  # one float per step of 10**12 would be 8 TB
