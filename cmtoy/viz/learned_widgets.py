"""Slider explorers of a learned consistency model: training live, and few-step sampling.

:class:`TrainingExplorer` (notebook 03) trains with ``cmtoy.training.train`` and redraws
f_theta against the exact f* and the exact W1 at every evaluation of the run.
:class:`SamplingExplorer` (notebook 04) draws multistep samples (Song et al. 2023,
Alg. 1) of a model and scores them with the exact W1. Both are
:class:`cmtoy.viz.explorer.Explorer` objects: ``set(...)`` from code, ``widget()`` in a
notebook. Drawing never trains: only ``TrainingExplorer.train()`` (the Train button) and
:func:`classroom_model` (the model notebook 04 samples from) do.
"""

from __future__ import annotations

import functools
import html

import ipywidgets
import numpy as np

from ..consistency import ExactModel
from ..interpolant import Interpolant
from ..metrics import wasserstein1
from ..sampling import sample
from ..targets import SEED_MIXTURE
from ..training import METHODS, TrainConfig, train
from .explorer import Explorer, status_line
from .knobs import Choice, Count, Grid
from .plotting import ARROW, CURVE_TIMES, LINE, time_colors

__all__ = ["TrainingExplorer", "SamplingExplorer", "sampling_times", "classroom_model", "CLASSROOM_TRAINING"]

DEFAULT_STEPS = 5000  # a distillation run that ends visibly close to f* (tests/test_explorer_training.py)


class TrainingExplorer(Explorer):
    """Train a consistency model on the seed mixture and watch it approach the exact one.

    Knobs: ``method`` (the consistency models: the discrete "ct", "cd", "ict" and the
    continuous-time "sct", "scd"), ``steps``, ``lr`` (peak learning rate, up to values where
    training diverges), ``batch``, ``n_max`` (the number N of discretisation steps the
    curriculum of a discrete method ends at; short runs learn more with a small one; the
    continuous methods have no grid and ignore it) and ``seed``:
    the settings of ``cmtoy.TrainConfig`` a student varies first (every other field keeps
    the method's default). The defaults are a distillation run short enough to watch that
    ends visibly close to f* (tests/test_explorer_training.py holds it to its W1). Nothing is drawn until ``train()``;
    it evaluates ten times per run and after each evaluation redraws f_theta(t, .)
    (dashed) over f*(t, .) (solid) at four times, and the exact W1 of 1- and 2-step
    samples and the mean |f_theta - f*| against the training step. The status line
    beside the figure gives the last run's W1, or why it diverged.
    """

    defaults = dict(method="cd", steps=DEFAULT_STEPS, lr=5e-3, batch=256, n_max=80, seed=0)
    knobs = {
        # the consistency models: a flow map has its own explorer (flow_map_widgets)
        "method": Choice("method", [m for m in METHODS if METHODS[m].defaults["mlp"].n_times == 1], dropdown=True),
        "steps": Choice("steps", [100, 200, 500, 1000, 2000, 3000, 5000, 10_000, 20_000, 40_000],
                        label="{:,}".format),
        # from where nothing happens to where Adam's steps overshoot and the run diverges
        "lr": Choice("learning rate", [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2,
                                       0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]),
        "batch": Choice("batch", [32, 64, 128, 256, 512, 1024]),
        "n_max": Choice("final N", [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120]),
        "seed": Count("seed", 0, 2**31 - 1, text=True),
    }
    figure_size = (10.0, 4.2)
    layers = (("curves",),)
    x_lim = (-3.0, 3.0)
    TRAINING = None  # the knobs a run depends on (None: all); a change of another needs no new run

    def training_values(self, values):
        """The knobs of ``values`` that a run depends on (``TRAINING``)."""
        return dict(values) if self.TRAINING is None else {name: values[name] for name in self.TRAINING}

    def check(self, values):
        values = super().check(values)
        self._config({**self.values, **values})  # TrainConfig's errors name the bad field
        return values

    @property
    def config(self):
        """The TrainConfig of the current knobs (ten evaluations per run, no tqdm bar)."""
        return self._config(self.values)

    @staticmethod
    def _config(values):
        # the method's defaults for this many steps, with a warm-up of at most a tenth of
        # the run and a curriculum that starts at or below the chosen final N (a grid
        # that the continuous-time methods do not have)
        method = TrainConfig(method=values.get("method", "ct"), steps=values["steps"]).resolved()
        grid = {} if method.n_max is None else dict(n_max=values["n_max"], n_min=min(method.n_min, values["n_max"]))
        values = {key: value for key, value in values.items() if key != "n_max"}
        return TrainConfig(**values, **grid, warmup=min(method.warmup, values["steps"] // 10),
                           eval_every=max(1, values["steps"] // 10), eval_samples=5000, progress=False)

    def draw(self):
        self.interp = interp = Interpolant(SEED_MIXTURE, "linear")
        self.model = self.history = None
        left, right = self.figure.subplots(1, 2, gridspec_kw=dict(left=0.07, right=0.98, bottom=0.15, top=0.9,
                                                                  wspace=0.25))
        self.curve_axes, self.metric_axes = left, right
        x = np.linspace(*self.x_lim, 301)
        colors = time_colors(len(CURVE_TIMES))
        labels = []
        for t, color in zip(CURVE_TIMES, colors):
            left.plot(x, interp.flow_map(x, t, 0.0), color=color, linewidth=1.0)  # background
            labels.append(f"$t = {t:g}$")
        left.set(xlim=self.x_lim, ylim=(-2.0, 3.0), xlabel="$x_t$", ylabel="$x_0$",
                 title=r"$f^*$ (solid) and $f_\theta$ (dashed)")
        learned = [left.plot([], [], color=c, linestyle="--", linewidth=1.5, label=label)[0]
                   for c, label in zip(colors, labels)]
        left.legend(fontsize=9, loc="upper left", frameon=False)
        right.set(yscale="log", ylim=(3e-3, 3.0), xlim=(0, self.values["steps"]), xlabel="training step")
        right.grid(which="major")
        metrics = [right.plot([], [], "o-", color=color, markersize=3, label=label)[0]
                   for color, label in ((LINE, "1-step $W_1$"), (ARROW, "2-step $W_1$"),
                                        ("black", r"mean $|f_\theta - f^*|$"))]
        right.legend(fontsize=9, loc="lower left", frameon=False)
        self.artists["curves"] = learned + metrics + [right.set_title("exact errors (press Train)")]
        self.summary = ""  # the last run in words, for the status line
        self._run_values = None  # the knobs of the last run

    def update(self, changed):
        return set()  # the figure shows the last run: knobs act when Train is pressed

    def train(self, progress=None):
        """Train with the current knobs, redrawing after each evaluation; returns (model, history).

        progress: an optional ipywidgets.IntProgress to advance (the widget passes its own).
        A run that diverges raises FloatingPointError; the status line then says why.
        """
        with self.lock:
            config, values = self.config, self.values
            self.metric_axes.set_xlim(0, config.steps)
            for line in self.artists["curves"][:-1]:
                line.set_data([], [])
            self.artists["curves"][-1].set_text("exact errors (training)")
            self.message, self.summary, self._run_values = "", "", values
            self.render()
        if progress is not None:
            progress.max, progress.value = config.steps, 0
        x = np.linspace(*self.x_lim, 301)
        learned, metrics = self.artists["curves"][:4], self.artists["curves"][4:7]

        def redraw(step, model, history):
            with self.lock:  # a slider of another thread may render meanwhile
                for line, t in zip(learned, CURVE_TIMES):
                    line.set_data(x, model(np.full_like(x, t), x))
                steps = [e["step"] for e in history["evals"]]
                for line, key in zip(metrics, ("w1_1step", "w1_2step", "flow_map_error")):
                    line.set_data(steps, [e[key] for e in history["evals"]])
                last = history["evals"][-1]
                self.artists["curves"][-1].set_text(
                    f"exact errors: 1-step $W_1$ = {last['w1_1step']:.3f} at step {step:,}")
                if progress is not None:
                    progress.value = step
                self.render({"curves"})

        try:
            self.model, self.history = train(self.interp, config, callback=redraw)
        except FloatingPointError as error:  # a diverging run: say why beside the figure
            with self.lock:
                self.message = f"{values['method']} with learning rate {values['lr']:g} diverged: {error}"
                self._sync_widgets()
            raise
        last = self.history["evals"][-1]
        with self.lock:
            self.summary = (f"{values['method']}, {self.history['steps_done']:,} steps in "
                            f"{self.history['seconds']:.1f} s: 1-step W1 = {last['w1_1step']:.3f}, "
                            f"2-step W1 = {last['w1_2step']:.3f}")
            self._sync_widgets()
        return self.model, self.history

    def status_html(self):
        """The refusal or divergence message, else the last run's W1 (and whether the knobs moved since)."""
        if self.message or not self.summary:
            return super().status_html()
        stale = " <i>(settings changed: press Train)</i>" if self._run_values != self.training_values(self._values) else ""
        return status_line(f"<b>{html.escape(self.summary)}</b>{stale}")

    def widget(self):
        """The controls, the Train button, a progress bar and the status line beside the figure."""
        button = ipywidgets.Button(description="Train", button_style="primary", layout={"width": "100%"})
        progress = ipywidgets.IntProgress(value=0, min=0, max=self.values["steps"], layout={"width": "100%"})
        box = super().widget(extra=(button, progress))

        def on_click(_):
            controls = [*self._widgets.values(), button]
            for control in controls:  # the knobs of a run stay those it was started with
                control.disabled = True
            try:
                self.train(progress)
            except FloatingPointError:
                pass  # train() put the reason in the status line
            finally:
                for control in controls:
                    control.disabled = False

        button.on_click(on_click)
        return box


def sampling_times(n_evals, t_mid):
    """(1, t_mid, ..., t_mid / (n_evals - 1)): one step from noise, then evenly spaced times.

    n_evals: int >= 1; t_mid in (0, 1). returns a tuple of n_evals decreasing times

    >>> sampling_times(1, 0.5)
    (1.0,)
    >>> sampling_times(3, 0.5)
    (1.0, 0.5, 0.25)
    """
    return (1.0, *(t_mid * (n_evals - 1 - i) / (n_evals - 1) for i in range(n_evals - 1)))


# The model notebook 04 samples from (cmtoy.TrainConfig fields): a short consistency-training
# run, whose one step smears the jump of f*(1, .) between the modes and whose re-noising
# steps visibly repair it (notebook 04 prints the exact W1 of one to four steps);
# deterministic, as every seeded run.
CLASSROOM_TRAINING = dict(method="ct", steps=6000, seed=0)


@functools.lru_cache(maxsize=1)
def classroom_model():
    """The model of :data:`CLASSROOM_TRAINING`, trained once per process (seconds; no progress bar)."""
    model, _ = train(Interpolant(SEED_MIXTURE, "linear"), TrainConfig(**CLASSROOM_TRAINING, progress=False))
    return model


class FirstStepMemo:
    """A model that remembers its one-step map f(1, x_1) of the last few noise draws.

    ``cmtoy.sample`` calls ``model(1, x_1)`` first, and every setting of the sampling
    explorer with one seed draws the same x_1: the first network evaluation is shared.
    Only that call has t = 1 (later sampling times are < 1).
    """

    def __init__(self, model, size=8):
        self.model, self.schedule, self.size = model, model.schedule, size
        self._first = {}  # x_1 as bytes -> f(1, x_1)

    def __call__(self, t, x):
        t = np.asarray(t)
        if not (t.size and t.flat[0] == 1.0):
            return self.model(t, x)
        key = np.asarray(x).tobytes()
        if key not in self._first:
            if len(self._first) >= self.size:
                self._first.clear()
            self._first[key] = self.model(t, x)
        return self._first[key]


class SamplingExplorer(Explorer):
    """Few-step samples of a model against the target density, with the exact W1.

    Knobs: ``n_evals`` (network evaluations), ``t_mid`` (the first re-noising time; the
    later ones are evenly spaced below it, see :func:`sampling_times`), ``n_samples`` and
    ``seed``. The histogram (orange) is the model's; the grey curve the target p(x_0).
    The title compares its W1 with that of the exact f* at the same times (the floor).
    Samples are drawn once per setting (``samples_for``), the first step once per noise
    draw (:class:`FirstStepMemo`), and once the widget is shown the warm-up
    (:meth:`Explorer.warm_up_work`) draws the settings one notch away while the sliders
    rest, so that most moves cost only the drawing.
    """

    defaults = dict(n_evals=1, t_mid=0.5, n_samples=10_000, seed=0)
    knobs = {
        "n_evals": Count("steps", 1, 8),
        "t_mid": Grid("first time", 0.05, 0.95, 0.05),
        # at most 10,000: a move must redraw within a slider's latency, and sampling costs a
        # network evaluation per sample and step; the exact-f* W1 shown beside the model's
        # tells the sampling floor, which at that size is well below the gap between 1 and 2 steps
        "n_samples": Choice("samples", [1000, 2000, 5000, 10_000], label="{:,}".format, continuous=False),
        "seed": Count("seed", 0, 2**31 - 1, text=True),
    }
    figure_size = (7.0, 4.0)
    layers = (("samples",),)
    x_lim = (-2.5, 3.0)

    def __init__(self, model, interp=None, **values):
        self.model = model
        self.interp = Interpolant(SEED_MIXTURE, model.schedule) if interp is None else interp
        self._model_memo, self._exact_memo = FirstStepMemo(model), FirstStepMemo(ExactModel(self.interp))
        self._drawn = {}  # (model or f*, times, seed, n_samples) -> (histogram heights, W1)
        super().__init__(**values)

    def draw(self):
        ax = self.axes = self.figure.subplots(gridspec_kw=dict(left=0.1, right=0.97, bottom=0.15, top=0.9))
        x = np.linspace(*self.x_lim, 1001)
        ax.fill_between(x, self.interp.target.pdf(x), color="0.85", label="target $p(x_0)$")
        ax.set(xlim=self.x_lim, ylim=(0.0, 1.15 * self.interp.target.pdf(x).max()), xlabel="$x_0$", ylabel="density")
        self.bins = np.linspace(*self.x_lim, 221)
        stairs = ax.stairs(np.zeros(self.bins.size - 1), self.bins, color=LINE, linewidth=1.2, label="samples")
        ax.legend(fontsize=10, loc="upper left", frameon=False)
        self.artists["samples"] = [stairs, ax.set_title(" ")]
        self.update(set(self.defaults))

    @property
    def times(self):
        return sampling_times(self._values["n_evals"], self._values["t_mid"])

    def samples_for(self, exact=False, times=None, seed=None, n_samples=None):
        """(histogram heights [220], exact W1) of the model's (or f*'s) samples, cached per setting.

        times, seed, n_samples: default the current knobs'. Safe to call from another
        thread (the warm-up): a setting computed twice gives the same numbers.
        """
        times = self.times if times is None else times
        seed = self._values["seed"] if seed is None else seed
        n_samples = self._values["n_samples"] if n_samples is None else n_samples
        key = (exact, times, seed, n_samples)
        if key not in self._drawn:
            if len(self._drawn) >= 512:  # a long session: start the cache afresh
                self._drawn.clear()
            model = self._exact_memo if exact else self._model_memo
            samples = sample(model, np.random.default_rng(seed), n_samples, times=times)
            self._drawn[key] = (np.histogram(samples, self.bins, density=True)[0],
                                wasserstein1(samples, self.interp.target))
        return self._drawn[key]

    def next_settings(self):
        """The settings a student tries next from the current knobs, nearest first.

        returns [(times, seed, n_samples)]: one slider notch away (steps, first time), then
        every step count at this first time and every first time at this step count.
        """
        v, knobs = self._values, self.knobs
        t_mids = [knobs["t_mid"].check("t_mid", 0.05 * k) for k in range(1, 20)]
        i = t_mids.index(v["t_mid"])
        near = [(n, t, v["n_samples"]) for n, t in ((v["n_evals"] + 1, v["t_mid"]), (v["n_evals"] - 1, v["t_mid"]))]
        near += [(v["n_evals"], t_mids[k], v["n_samples"]) for k in (i - 1, i + 1) if 0 <= k < len(t_mids)]
        rest = [(n, v["t_mid"], v["n_samples"]) for n in range(1, 9)] + [(v["n_evals"], t, v["n_samples"]) for t in t_mids]
        return [(sampling_times(n, t), v["seed"], size) for n, t, size in near + rest if 1 <= n <= 8]

    def warm_up_work(self):
        return [functools.partial(self.samples_for, exact, *setting)
                for setting in self.next_settings() for exact in (False, True)]

    def update(self, changed):
        if changed == {"t_mid"} and self._values["n_evals"] == 1:
            return set()  # one step never re-noises
        heights, self.w1 = self.samples_for()
        self.w1_exact = self.samples_for(exact=True)[1]
        stairs, title = self.artists["samples"]
        stairs.set_data(heights)
        times = ", ".join(f"{t:.2f}" for t in self.times)
        title.set_text(f"times ({times}):  $W_1$ = {self.w1:.3f}  (exact $f^*$: {self.w1_exact:.3f})")
        return {"samples"}
