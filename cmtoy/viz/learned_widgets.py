"""Slider explorers of a learned consistency model: training live, and few-step sampling.

:class:`TrainingExplorer` (notebook 03) trains with ``cmtoy.training.train`` and redraws
f_theta against the exact f* and the exact W1 at every evaluation of the run.
:class:`SamplingExplorer` (notebook 04) draws multistep samples (Song et al. 2023,
Alg. 1) of a model and scores them with the exact W1. Both are
:class:`cmtoy.viz.explorer.Explorer` objects: ``set(...)`` from code, ``widget()`` in a
notebook. Drawing never trains: only ``TrainingExplorer.train()`` (the Train button) does.
"""

from __future__ import annotations

import ipywidgets
import numpy as np

from ..consistency import ExactModel
from ..interpolant import Interpolant
from ..metrics import wasserstein1
from ..sampling import sample
from ..targets import SEED_MIXTURE
from ..training import TrainConfig, train
from .explorer import Explorer, float_slider
from .plotting import ARROW, CURVE_TIMES, LINE, time_colors

__all__ = ["TrainingExplorer", "SamplingExplorer", "sampling_times"]

class TrainingExplorer(Explorer):
    """Train a consistency model on the seed mixture and watch it approach the exact one.

    Knobs: ``method`` ("ct", "cd", "ict"), ``steps``, ``lr`` (peak learning rate),
    ``batch``, ``n_max`` (the number N of discretisation steps the curriculum ends at;
    short runs learn more with a small one) and ``seed``: the settings of
    ``cmtoy.TrainConfig`` a student varies first (every other field keeps the method's
    default). Nothing is drawn until ``train()``;
    it evaluates ten times per run and after each evaluation redraws f_theta(t, .)
    (dashed) over f*(t, .) (solid) at four times, and the exact W1 of 1- and 2-step
    samples and the mean |f_theta - f*| against the training step.
    """

    defaults = dict(method="ct", steps=2000, lr=3e-3, batch=256, n_max=80, seed=0)
    controls = {
        "method": lambda value: ipywidgets.Dropdown(options=["ct", "cd", "ict"], value=value, description="method"),
        "steps": lambda value: ipywidgets.IntSlider(value=value, min=100, max=40_000, step=100, description="steps",
                                                    continuous_update=False),
        "lr": lambda value: ipywidgets.FloatLogSlider(value=value, base=10, min=-4, max=-2, step=0.1,
                                                      description="learning rate", readout_format=".1e",
                                                      style={"description_width": "90px"}),
        "batch": lambda value: ipywidgets.IntSlider(value=value, min=32, max=1024, step=32, description="batch"),
        "n_max": lambda value: ipywidgets.IntSlider(value=value, min=10, max=1280, step=10, description="final N"),
        "seed": lambda value: ipywidgets.BoundedIntText(value=value, min=0, max=2**31 - 1, description="seed"),
    }
    figure_size = (10.0, 4.2)
    layers = (("curves",),)
    x_lim = (-3.0, 3.0)

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
        # the run and a curriculum that starts at or below the chosen final N
        method = TrainConfig(method=values.get("method", "ct"), steps=values["steps"]).resolved()
        return TrainConfig(**values, warmup=min(method.warmup, values["steps"] // 10),
                           n_min=min(method.n_min, values["n_max"]), eval_every=max(1, values["steps"] // 10),
                           eval_samples=5000, progress=False)

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
        right.set(yscale="log", ylim=(3e-3, 3.0), xlabel="training step", title="exact errors")
        right.grid(which="major")
        metrics = [right.plot([], [], "o-", color=color, markersize=3, label=label)[0]
                   for color, label in ((LINE, "1-step $W_1$"), (ARROW, "2-step $W_1$"),
                                        ("black", r"mean $|f_\theta - f^*|$"))]
        right.legend(fontsize=9, loc="lower left", frameon=False)
        self.artists["curves"] = learned + metrics
        self.update(set(self.defaults))

    def update(self, changed):
        if "steps" in changed:
            self.metric_axes.set_xlim(0, self.values["steps"])
        return set()

    def train(self, progress=None):
        """Train with the current knobs, redrawing after each evaluation; returns (model, history).

        progress: an optional ipywidgets.IntProgress to advance (the widget passes its own).
        """
        config = self.config
        if progress is not None:
            progress.max, progress.value = config.steps, 0
        x = np.linspace(*self.x_lim, 301)
        learned, metrics = self.artists["curves"][:4], self.artists["curves"][4:]

        def redraw(step, model, history):
            for line, t in zip(learned, CURVE_TIMES):
                line.set_data(x, model(np.full_like(x, t), x))
            steps = [e["step"] for e in history["evals"]]
            for line, key in zip(metrics, ("w1_1step", "w1_2step", "flow_map_error")):
                line.set_data(steps, [e[key] for e in history["evals"]])
            if progress is not None:
                progress.value = step
            self.render({"curves"})

        self.model, self.history = train(self.interp, config, callback=redraw)
        return self.model, self.history

    def widget(self):
        box = super().widget()
        button = ipywidgets.Button(description="Train", button_style="primary")
        progress = ipywidgets.IntProgress(value=0, min=0, max=self.values["steps"], description="progress")

        def on_click(_):
            button.disabled = True
            try:
                self.train(progress)
                last = self.history["evals"][-1]
                self._status.value = (f"{self.history['steps_done']} steps in {self.history['seconds']:.1f} s: "
                                      f"1-step W1 = {last['w1_1step']:.3f}, 2-step W1 = {last['w1_2step']:.3f}")
            except FloatingPointError as error:  # a diverging run: say why, in the widget
                self._status.value = f"<span style='color:#b00000'>{error}</span>"
            finally:
                button.disabled = False

        button.on_click(on_click)
        controls = box.children[0]
        controls.children = (*controls.children, button, progress)
        return box


def sampling_times(n_steps, t_mid):
    """(1, t_mid, ..., t_mid / (n_steps - 1)): one step from noise, then evenly spaced times.

    n_steps: int >= 1; t_mid in (0, 1). returns a tuple of n_steps decreasing times

    >>> sampling_times(1, 0.5)
    (1.0,)
    >>> sampling_times(3, 0.5)
    (1.0, 0.5, 0.25)
    """
    return (1.0, *(t_mid * (n_steps - 1 - i) / (n_steps - 1) for i in range(n_steps - 1)))


class SamplingExplorer(Explorer):
    """Few-step samples of a model against the target density, with the exact W1.

    Knobs: ``n_steps`` (network evaluations), ``t_mid`` (the first re-noising time; the
    later ones are evenly spaced below it, see :func:`sampling_times`), ``n_samples`` and
    ``seed``. The histogram (orange) is the model's; the grey curve the target p(x_0).
    The title compares its W1 with that of the exact f* at the same times (the floor).
    """

    defaults = dict(n_steps=1, t_mid=0.5, n_samples=20_000, seed=0)
    controls = {
        "n_steps": lambda value: ipywidgets.IntSlider(value=value, min=1, max=8, description="steps"),
        "t_mid": float_slider("first time", 0.05, 0.95, 0.05),
        "n_samples": lambda value: ipywidgets.IntSlider(value=value, min=1000, max=100_000, step=1000,
                                                        description="samples", continuous_update=False),
        "seed": lambda value: ipywidgets.BoundedIntText(value=value, min=0, max=2**31 - 1, description="seed"),
    }
    figure_size = (7.0, 4.0)
    layers = (("samples",),)
    x_lim = (-2.5, 3.0)

    def __init__(self, model, interp=None, **values):
        self.model = model
        self.interp = Interpolant(SEED_MIXTURE, model.schedule) if interp is None else interp
        super().__init__(**values)

    def check(self, values):
        values = super().check(values)
        for name, low in (("n_steps", 1), ("n_samples", 1), ("seed", 0)):
            value = values.get(name, low)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if "t_mid" in values and not 0.0 < values["t_mid"] < 1.0:
            raise ValueError(f"t_mid must lie in (0, 1), got {values['t_mid']!r}")
        return values

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
        return sampling_times(self.values["n_steps"], self.values["t_mid"])

    def draw_samples(self, model):
        """Samples of ``model`` at the current knobs (the seed fixes the noise). returns [n_samples]"""
        return sample(model, np.random.default_rng(self.values["seed"]), self.values["n_samples"], times=self.times)

    def update(self, changed):
        if changed == {"t_mid"} and self.values["n_steps"] == 1:
            return set()  # one step never re-noises
        samples = self.draw_samples(self.model)
        self.w1 = wasserstein1(samples, self.interp.target)
        self.w1_exact = wasserstein1(self.draw_samples(ExactModel(self.interp)), self.interp.target)
        stairs, title = self.artists["samples"]
        stairs.set_data(np.histogram(samples, self.bins, density=True)[0])
        times = ", ".join(f"{t:.2f}" for t in self.times)
        title.set_text(f"times ({times}):  $W_1$ = {self.w1:.3f}  (exact $f^*$: {self.w1_exact:.3f})")
        return {"samples"}
