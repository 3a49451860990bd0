"""TrainConfig keeps what the user set; resolved() fills in the method's defaults; the validators."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from cmtoy import validation
from cmtoy.checkpoint import load_checkpoint
from cmtoy.mlp import MLPConfig
from cmtoy.reference import REFERENCE_FILE, REFERENCE_TRAINING, training_key
from cmtoy.training import METHODS, TrainConfig

FIGURES = Path(__file__).resolve().parent.parent / "figures"
INT_FIELDS = ("steps", "batch", "seed", "warmup", "n_min", "n_max", "eval_every", "eval_samples")
FLOAT_FIELDS = ("lr", "ema", "eval_ema", "huber_c", "p_mean", "p_std", "grid_rho", "max_seconds")
CHOICE_FIELDS = ("method", "lr_decay", "distance", "weighting", "time_distribution", "sampling", "curriculum",
                 "solver")


@pytest.mark.parametrize("first", list(METHODS))
@pytest.mark.parametrize("second", list(METHODS))
def test_replacing_the_method_gives_that_methods_defaults(first, second):
    switched = dataclasses.replace(TrainConfig(method=first), method=second)
    assert switched == TrainConfig(method=second)
    assert switched.resolved() == TrainConfig(method=second).resolved()
    # what the user set survives the switch; what they did not follows the method
    kept = dataclasses.replace(TrainConfig(method=first, steps=123, lr=0.02), method=second).resolved()
    assert (kept.steps, kept.lr) == (123, 0.02)
    assert kept.n_max == METHODS[second].defaults.get("n_max") and kept.mlp == METHODS[second].defaults["mlp"]


def test_equality_compares_what_was_set_and_resolved_compares_the_runs():
    assert TrainConfig(method="cd", seed=3) == TrainConfig(method="cd", seed=3)
    assert TrainConfig(method="ct") != TrainConfig(method="ct", steps=40_000)  # one left it to the method
    assert TrainConfig(method="ct").resolved() == TrainConfig(method="ct", steps=40_000).resolved()
    assert TrainConfig(method="ct").resolved() != TrainConfig(method="ict").resolved()
    assert hash(TrainConfig(method="cd")) == hash(TrainConfig(method="cd"))


@pytest.mark.parametrize("method", list(METHODS))
def test_resolved_fills_every_default_once(method):
    resolved = TrainConfig(method=method).resolved()
    unset = [f.name for f in dataclasses.fields(resolved) if getattr(resolved, f.name) is None]
    # None there means "no time limit", not a default, or a setting the method does not read
    assert set(unset) == {"max_seconds", *resolved.unused()}
    assert resolved.resolved() == resolved
    assert isinstance(resolved.warmup, int) and 0 <= resolved.warmup < resolved.steps
    assert json.loads(json.dumps(dataclasses.asdict(resolved)))["mlp"] == dataclasses.asdict(resolved.mlp)


def test_a_warmup_fraction_of_the_method_follows_the_steps_and_a_users_warmup_wins():
    assert TrainConfig(method="ict").warmup is None
    assert [TrainConfig(method="ict", steps=n).resolved().warmup for n in (1, 19, 20, 3000)] == [0, 0, 1, 150]
    assert TrainConfig(method="ict", steps=3000, warmup=7).resolved().warmup == 7
    assert TrainConfig(method="cd", steps=300).resolved().warmup == 500  # a number of steps; train clips it


def test_the_reference_models_key_is_the_one_its_file_was_saved_with():
    # the reference model must not retrain: its stored key is training_key of the resolved config
    stored = load_checkpoint(FIGURES / REFERENCE_FILE)[1]["extra"]["training"]
    assert training_key(TrainConfig(**REFERENCE_TRAINING)) == stored
    assert training_key(TrainConfig(**REFERENCE_TRAINING).resolved()) == stored


@pytest.mark.parametrize("field", INT_FIELDS)
@pytest.mark.parametrize("bad", [True, "100", 2.5])
def test_integer_fields_refuse_bools_strings_and_floats_by_name(field, bad):
    with pytest.raises(TypeError, match=field):
        TrainConfig(**{field: bad})


@pytest.mark.parametrize("field", ["batch", "seed", "eval_every", "eval_samples", "huber_c", "lr_decay", "progress"])
def test_none_is_refused_where_it_is_not_the_methods_default(field):
    with pytest.raises((TypeError, ValueError), match=field):
        TrainConfig(**{field: None})


@pytest.mark.parametrize("field", FLOAT_FIELDS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_float_fields_refuse_nan_and_inf_by_name(field, bad):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: bad})


@pytest.mark.parametrize("field", FLOAT_FIELDS)
@pytest.mark.parametrize("bad", [True, "0.5"])
def test_float_fields_refuse_bools_and_strings_by_name(field, bad):
    with pytest.raises(TypeError, match=field):
        TrainConfig(**{field: bad})


@pytest.mark.parametrize("field", CHOICE_FIELDS)
@pytest.mark.parametrize("bad", [True, 1, "nonsense"])
def test_choice_fields_refuse_anything_but_their_names(field, bad):
    with pytest.raises(ValueError, match=field if field != "method" else "method"):
        TrainConfig(**{field: bad})


def test_other_fields_refuse_the_wrong_kind():
    with pytest.raises(TypeError, match="progress"):
        TrainConfig(progress="yes")
    with pytest.raises(TypeError, match="MLPConfig"):
        TrainConfig(mlp={"width": 8})


def test_numpy_scalars_count_as_the_numbers_they_hold():
    config = TrainConfig(method=np.str_("cd"), steps=np.int64(300), batch=np.int32(64), seed=np.uint16(3),
                         warmup=np.int64(10), n_min=np.int8(4), n_max=np.int64(40), lr=np.float32(0.5),
                         ema=np.float64(0.5), huber_c=np.float32(2.0), p_mean=np.float64(-1.0),
                         max_seconds=np.float64(10.0), progress=np.bool_(False))
    plain = TrainConfig(method="cd", steps=300, batch=64, seed=3, warmup=10, n_min=4, n_max=40, lr=0.5, ema=0.5,
                        huber_c=2.0, p_mean=-1.0, max_seconds=10.0, progress=False)
    assert config == plain
    assert all(type(getattr(config, key)) is type(getattr(plain, key)) for key in ("steps", "seed", "lr", "progress"))
    json.dumps(dataclasses.asdict(config.resolved()))  # Python numbers: a saved model's metadata is JSON


def test_validators_say_what_is_allowed():
    assert validation.integer("k", np.int64(3), 1) == 3 and type(validation.integer("k", np.int64(3))) is int
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        validation.integer("k", 0, 1)
    with pytest.raises(ValueError, match=r"k must be an integer >= 5, got 4"):
        validation.integer("k", 4, 5)
    assert validation.real("r", np.float32(0.25), 0.0, 1.0) == 0.25
    with pytest.raises(ValueError, match=r"r must be in \[0, 1\), got 1.0"):
        validation.real("r", 1, 0.0, 1.0, high_open=True)
    with pytest.raises(ValueError, match=r"r must be > 0, got 0.0"):
        validation.real("r", 0.0, 0.0, low_open=True)
    with pytest.raises(ValueError, match=r"r must be a finite real number, got nan"):
        validation.real("r", float("nan"))
    with pytest.raises(ValueError, match=r"c must be one of 'x', 'y'; got 'z'"):
        validation.choice("c", "z", ("x", "y"))
    assert validation.flag("f", np.bool_(True)) is True
    with pytest.raises(TypeError, match="f must be True or False, got 1"):
        validation.flag("f", 1)


@pytest.mark.parametrize("settings", [dict(method="ct", steps=10_000), dict(method="ict", steps=9_000),
                                      dict(method="cd", steps=300, lr_decay="constant")])
def test_learning_rates_computed_by_blocks_are_those_of_the_whole_run(settings):
    from cmtoy.optim import BlockedRates, learning_rates

    config = TrainConfig(**settings).resolved()
    rates, blocked = learning_rates(config), BlockedRates(config)
    assert [blocked[k] for k in range(config.steps)] == rates.tolist()
    assert blocked.peak == config.lr == rates.max()


def test_a_method_may_leave_settings_unused_and_they_are_refused_and_not_keyed(monkeypatch):
    # a method whose defaults omit a None field does not read it: it stays None when
    # resolved, setting it is refused by name, and it is not part of the reference key
    from cmtoy import training

    defaults = {k: v for k, v in METHODS["cd"].defaults.items() if k != "n_min"}
    monkeypatch.setitem(training.METHODS, "toy", type("Toy", (), {"defaults": defaults})())
    config = TrainConfig(method="toy")
    cd_unused = TrainConfig(method="cd").unused()  # the other methods' settings
    assert set(config.unused()) == {"n_min", *TrainConfig(method="cd").unused()}
    assert config.resolved().n_min is None and config.resolved().n_max == defaults["n_max"]
    assert "n_min" not in training_key(config) and "n_max" in training_key(config)
    with pytest.raises(ValueError, match="method 'toy' does not use n_min"):
        TrainConfig(method="toy", n_min=4)
    assert {"n_min", "n_max", "lr", "ema"}.isdisjoint(cd_unused)
    assert not set(TrainConfig(method="cd").unused()) & set(training_key(TrainConfig(method="cd")))
