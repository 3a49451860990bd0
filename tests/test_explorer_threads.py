"""Explorers under two threads: JupyterLab's comm thread moves sliders while a cell calls set().

Each test hammers one explorer from two threads with random valid values (one thread
through the widgets, as the comm thread does, the other through ``set``) and then checks
that the picture is exactly a fresh render of the final knob values, and that the
controls show those values.
"""

import threading
import time

import numpy as np
import pytest

import cmtoy
from cmtoy.viz.knobs import Choice, Grid
from cmtoy.viz.learned_widgets import SamplingExplorer, TrainingExplorer
from cmtoy.viz.widgets import InductiveStepExplorer, ProbabilityFlowExplorer


def random_value(knob, rng):
    """A value the knob's control can take. returns float, int or str"""
    if isinstance(knob, Choice):
        return knob.options[rng.integers(len(knob.options))]
    if isinstance(knob, Grid):
        return knob.check("k", knob.low + knob.step * rng.integers(round((knob.high - knob.low) / knob.step) + 1))
    return int(rng.integers(knob.low, min(knob.high, knob.low + 20) + 1))


def hammer(explorer, names, moves=60):
    """Two threads, each making ``moves`` random moves of ``names``: one by widget, one by set()."""
    errors = []
    start = threading.Barrier(2)

    def by_set(seed):
        rng = np.random.default_rng(seed)
        start.wait()
        for _ in range(moves):
            values = {name: random_value(explorer.knobs[name], rng) for name in rng.permutation(names)[:2]}
            try:
                explorer.set(**values)
            except Exception as error:  # noqa: BLE001  collected: a thread cannot fail the test
                errors.append(error)

    def by_widget(seed):
        rng = np.random.default_rng(seed)
        start.wait()
        for _ in range(moves):
            name = names[rng.integers(len(names))]
            try:
                explorer._widgets[name].value = random_value(explorer.knobs[name], rng)
            except Exception as error:  # noqa: BLE001
                errors.append(error)

    threads = [threading.Thread(target=by_set, args=(1,)), threading.Thread(target=by_widget, args=(2,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors[:3]


def assert_shows_its_knobs(explorer, fresh):
    values = explorer.values
    for name, control in explorer._widgets.items():
        assert control.value == values[name], f"{name}: control {control.value!r}, knob {values[name]!r}"
    assert explorer._image.value == explorer.png
    assert explorer.png == fresh(**values).png, f"the picture is not a render of {values}"


def test_probability_flow_under_two_threads():
    flow = ProbabilityFlowExplorer()
    flow.widget()
    hammer(flow, ["t", "mean_1", "std_2", "n_trajectories", "schedule", "weight_1", "weight_3"])
    assert_shows_its_knobs(flow, ProbabilityFlowExplorer)


def test_inductive_step_under_two_threads():
    step = InductiveStepExplorer()
    step.widget()
    hammer(step, ["t", "dt", "x_0", "x_1"], moves=100)
    assert_shows_its_knobs(step, InductiveStepExplorer)


def test_sampling_under_two_threads():
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, "linear")
    exact = cmtoy.ExactModel(interp)
    sampler = SamplingExplorer(exact, interp, n_samples=1000)
    sampler.widget()
    hammer(sampler, ["n_evals", "t_mid", "seed"], moves=40)
    assert_shows_its_knobs(sampler, lambda **values: SamplingExplorer(exact, interp, **values))


def test_training_redraws_while_another_thread_moves_knobs():
    """Train on one thread while another moves knobs: the run's picture is that of its own knobs."""
    trainer = TrainingExplorer(steps=200, batch=64)
    trainer.widget()
    moving = threading.Thread(target=hammer, args=(trainer, ["lr", "batch", "n_max"], 30))
    moving.start()
    trainer.train()
    moving.join(timeout=600)
    run = trainer._run_values
    fresh = TrainingExplorer(**run)
    fresh.train()
    assert trainer.png == fresh.png
    assert ("settings changed" in trainer.status_html()) == (trainer.values != run)


def test_the_sampling_warm_up_draws_the_next_notch_before_the_slider_gets_there():
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, "linear")
    sampler = SamplingExplorer(cmtoy.ExactModel(interp), interp, n_samples=1000)
    sampler.widget()
    sampler.set(n_evals=3, t_mid=0.4)
    wanted = [(exact, times, 0, 1000) for exact in (False, True) for times, _, _ in sampler.next_settings()[:4]]
    assert len(wanted) == 8 and (False, (1.0, 0.4, 0.2), 0, 1000) not in wanted
    deadline = time.monotonic() + 120
    while not all(key in sampler._drawn for key in wanted):  # a background thread: poll it
        assert time.monotonic() < deadline, "the warm-up did not draw the settings one notch away"
        time.sleep(0.05)
    sampler.set(n_evals=4)  # from the cache: the same picture as a fresh explorer
    assert sampler.png == SamplingExplorer(cmtoy.ExactModel(interp), interp, **sampler.values).png
