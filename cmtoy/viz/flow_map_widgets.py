"""The slider explorer of notebook 05: train a two-time flow map and compare it with the exact one.

:class:`FlowMapExplorer` trains a :class:`cmtoy.flow_maps.FlowMapModel` with
``cmtoy.train`` (meanflow, psd or fmd; the Train button and the progress bar of
:class:`cmtoy.viz.learned_widgets.TrainingExplorer`, whose machinery it reuses) and then
lets the sliders pick the jump t -> s and the number of composition steps: the learned
X_theta(t, s, .) is drawn over the exact h_{t->s}, and the samples of k composed jumps
x <- X_theta(t_i, t_{i+1}, x) from t = 1 to 0 over the target density, with the exact W1 of
the law they are drawn from (``cmtoy.composition_w1``): the W1 of the histogram's samples
carries a sampling noise as large as what one more step changes, and can rise from one
number of steps to the next where the law falls.
"""

from __future__ import annotations

import numpy as np

from ..interpolant import Interpolant
from ..flow_map_metrics import composition_w1
from ..metrics import wasserstein1
from ..sampling import sample
from ..targets import SEED_MIXTURE
from ..training import METHODS, TrainConfig, train
from .knobs import Choice, Count, Grid
from .learned_widgets import TrainingExplorer
from .plotting import LINE

__all__ = ["FlowMapExplorer", "FLOW_MAP_METHODS"]

FLOW_MAP_METHODS = [name for name, method in METHODS.items() if method.defaults["mlp"].n_times == 2]
N_SAMPLES = 10_000  # samples per histogram: a redraw stays within a slider's latency


class FlowMapExplorer(TrainingExplorer):
    """Train a flow map on the seed mixture; then slide t, s and the number of steps.

    Knobs: ``method`` (the flow-map methods), ``steps``, ``lr`` and ``seed`` (the training,
    acting when Train is pressed; every other TrainConfig field keeps the method's
    default), ``t`` and ``s`` (the jump drawn on the left, s < t) and ``n_steps`` (how many
    composed jumps the samples on the right take from t = 1 to 0). The defaults train psd
    for a few seconds, enough to see the map and to see more steps help.
    """

    defaults = dict(method="psd", steps=3000, lr=3e-3, seed=0, t=1.0, s=0.0, n_steps=1)
    knobs = {
        "method": Choice("method", FLOW_MAP_METHODS, dropdown=True),
        "steps": Choice("steps", [300, 1000, 2000, 3000, 5000, 10_000, 20_000, 40_000], label="{:,}".format),
        "lr": Choice("learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]),
        "seed": Count("seed", 0, 2**31 - 1, text=True),
        "t": Grid("from t", 0.05, 1.0, 0.05),
        "s": Grid("to s", 0.0, 0.95, 0.05),
        "n_steps": Count("sampling steps", 1, 8),
    }
    figure_size = (10.0, 4.2)
    layers = (("map",), ("samples",))
    TRAINING = ("method", "steps", "lr", "seed")  # the knobs that act when Train is pressed

    def check(self, values):
        values = super().check(values)
        merged = {**self.values, **values}
        if not merged["s"] < merged["t"]:
            raise ValueError(f"a flow map jumps back in time: s must be below t, got t={merged['t']:g}, "
                             f"s={merged['s']:g}")
        return values

    @classmethod
    def _config(cls, values):
        values = {name: values[name] for name in cls.TRAINING}
        method = TrainConfig(method=values["method"], steps=values["steps"]).resolved()
        return TrainConfig(**values, warmup=min(method.warmup, values["steps"] // 10),
                           eval_every=max(1, values["steps"] // 5), eval_samples=5000, progress=False)

    def draw(self):
        self.interp = interp = Interpolant(SEED_MIXTURE, "linear")
        self.model = self.history = None
        self._samples = {}  # (n_steps, chain) -> (histogram heights, W1 of the samples, W1 of the law)
        left, right = self.figure.subplots(1, 2, gridspec_kw=dict(left=0.07, right=0.98, bottom=0.15, top=0.9,
                                                                  wspace=0.25))
        self.x = np.linspace(-3.0, 3.0, 301)
        exact = left.plot([], [], color="black", linewidth=1.5, label=r"exact $h_{t\to s}$")[0]
        learned = left.plot([], [], color=LINE, linestyle="--", linewidth=1.5, label=r"learned $X_\theta(t, s, \cdot)$")[0]
        left.set(xlim=(-3.0, 3.0), ylim=(-3.0, 3.0), xlabel="$x_t$", ylabel="$x_s$")
        left.legend(fontsize=11, loc="upper left", frameon=False)  # readable when JupyterLab scales the figure down
        self.bins = np.linspace(-2.5, 3.0, 221)
        grid = np.linspace(-2.5, 3.0, 1001)
        right.fill_between(grid, interp.target.pdf(grid), color="0.85", label="target $p(x_0)$")
        right.set(xlim=(-2.5, 3.0), ylim=(0.0, 1.15 * interp.target.pdf(grid).max()), xlabel="$x_0$", ylabel="density")
        stairs = right.stairs(np.zeros(self.bins.size - 1), self.bins, color=LINE, linewidth=1.2, label="composed samples")
        right.legend(fontsize=11, loc="upper right", frameon=False)
        self.artists["map"] = [exact, learned, left.set_title(" ")]
        self.artists["samples"] = [stairs, right.set_title("press Train")]
        self.summary, self._run_values = "", None
        self.update(set(self.defaults))

    def samples_for(self, n_steps, chain="compose"):
        """n_steps steps of the model at times 1, 1 - 1/n, ..., 1/n: composed jumps or (chain="renoise")
        the re-noising chain of its s = 0 slice; cached until the next run.

        returns (histogram heights [len(bins) - 1], exact W1 of the N_SAMPLES samples, exact W1 of
        the law they are drawn from, cmtoy.composition_w1, or None for "renoise", whose fresh
        noise at every step has no such closed form)
        """
        key = (n_steps, chain)
        if key not in self._samples:
            times = np.linspace(1.0, 0.0, n_steps + 1)[:-1]
            x = sample(self.model, np.random.default_rng(self._run_values["seed"]), N_SAMPLES, times=times, chain=chain)
            law = composition_w1(self.model, self.interp, times, n=N_SAMPLES) if chain == "compose" else None
            self._samples[key] = np.histogram(x, self.bins, density=True)[0], wasserstein1(x, self.interp.target), law
        return self._samples[key]

    def update(self, changed):
        v, moved = self._values, set()
        if changed & {"t", "s"}:
            exact, learned, title = self.artists["map"]
            exact.set_data(self.x, self.interp.flow_map(self.x, v["t"], v["s"]))
            if self.model is not None:
                jumped = self.model.flow_map(self.x, v["t"], v["s"])
                learned.set_data(self.x, jumped)
                error = np.mean(np.abs(jumped - exact.get_ydata()))
                title.set_text(f"$t = {v['t']:g} \\to s = {v['s']:g}$: mean error {error:.3f} over the x shown")
            else:
                title.set_text(f"$t = {v['t']:g} \\to s = {v['s']:g}$ (press Train)")
            moved.add("map")
        if changed & {"n_steps"} and self.model is not None:
            stairs, title = self.artists["samples"]
            heights, _, law = self.samples_for(v["n_steps"])
            stairs.set_data(heights)
            title.set_text(f"{v['n_steps']} composed step{'s' if v['n_steps'] > 1 else ''}: $W_1$ of their law = {law:.3f}")
            moved.add("samples")
        return moved

    def train(self, progress=None):
        """Train with the training knobs, redrawing the map after each evaluation; returns (model, history).

        progress: an optional ipywidgets.IntProgress to advance. A diverging run raises
        FloatingPointError and the status line says why.
        """
        with self.lock:
            config, values = self.config, self.values
            self.message, self.summary, self._run_values = "", "", self.training_values(values)
        if progress is not None:
            progress.max, progress.value = config.steps, 0

        def redraw(step, model, history):
            with self.lock:
                self.model = model
                if progress is not None:
                    progress.value = step
                self.render(self.update({"t", "s"}))

        try:
            self._samples.clear()
            model, self.history = train(self.interp, config, callback=redraw)
        except FloatingPointError as error:
            with self.lock:
                self.model, self.message = None, f"{values['method']} with learning rate {values['lr']:g} diverged: {error}"
                self._sync_widgets()
            raise
        with self.lock:
            self.model = model
            self._samples.clear()
            for n_steps in range(1, self.knobs["n_steps"].high + 1):  # every slider position, drawn once now
                self.samples_for(n_steps)
            self.render(self.update({"t", "s", "n_steps"}))
            self.summary = (f"{values['method']}, {self.history['steps_done']:,} steps in "
                            f"{self.history['seconds']:.1f} s: 1-step W1 of the law = {self.samples_for(1)[2]:.3f}")  # the title's number at one step
            self._sync_widgets()
        return self.model, self.history
