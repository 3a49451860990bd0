"""Knobs read back exactly, are validated with their controls' bounds, and set() is atomic."""

import ipywidgets
import numpy as np
import pytest

import cmtoy
from cmtoy.viz.knobs import Choice, Count, Grid
from cmtoy.viz.learned_widgets import SamplingExplorer, TrainingExplorer
from cmtoy.viz.widgets import InductiveStepExplorer, ProbabilityFlowExplorer


def exact_sampler():
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, "linear")
    return SamplingExplorer(cmtoy.ExactModel(interp), interp, n_samples=1000)


EXPLORERS = [ProbabilityFlowExplorer, InductiveStepExplorer, TrainingExplorer, exact_sampler]


def grid_values(knob):
    """Every value a knob's control can take (a slice of a long grid). returns list"""
    if isinstance(knob, Choice):
        return list(knob.options)
    if isinstance(knob, Grid):
        return list(knob.values)
    return list(range(knob.low, min(knob.high, knob.low + 40 * knob.step) + 1, knob.step))


@pytest.mark.parametrize("make", EXPLORERS, ids=lambda m: m.__name__)
def test_every_control_value_reads_back_exactly(make):
    """What a slider sends (float noise included) is what the explorer keeps and the control shows."""
    explorer = make()
    box = explorer.widget()
    assert "cmtoy-explorer" in box._dom_classes
    for name, knob in explorer.knobs.items():
        control = explorer._widgets[name]
        for value in grid_values(knob)[:12]:
            before = explorer.values
            control.value = value  # what a browser does
            if explorer.message:  # refused as a combination (t + dt > 1): nothing moved
                assert explorer.values == before and control.value == before[name]
                continue
            kept = explorer.values[name]
            assert control.value == kept, f"{name}: control shows {control.value!r}, explorer holds {kept!r}"
            assert kept == knob.check(name, value)
            if isinstance(knob, Grid):
                assert kept == round(kept, knob.decimals)  # no 0.45000000000000007, no 3.16e-3
                assert not isinstance(control, ipywidgets.FloatSlider)  # its browser side sends float noise back
    for name, knob in explorer.knobs.items():  # from code, float noise is snapped to the grid value
        if isinstance(knob, Grid):
            value = knob.low + knob.step * 3  # e.g. 0.15000000000000002
            explorer.set(**{name: value})
            assert explorer._widgets[name].value == explorer.values[name] == round(value, knob.decimals)
            break


@pytest.mark.parametrize("cls", [ProbabilityFlowExplorer, InductiveStepExplorer, TrainingExplorer, SamplingExplorer])
def test_defaults_are_values_of_their_controls(cls):
    assert {name: cls.knobs[name].check(name, value) for name, value in cls.defaults.items()} == cls.defaults
    assert set(cls.knobs) == set(cls.defaults)


def test_learning_rate_and_steps_are_reached_in_a_few_moves():
    steps = TrainingExplorer.knobs["steps"].options
    lrs = TrainingExplorer.knobs["lr"].options
    assert abs(steps.index(3000) - steps.index(TrainingExplorer.defaults["steps"])) <= 3
    assert max(lrs) >= 1.0 and min(lrs) <= 1e-4 and len(lrs) <= 20  # up to where training diverges


@pytest.mark.parametrize(
    "knob, good, bad",
    [
        (Grid("x", -1.0, 1.0, 0.05), [(-1.0, -1.0), (0.45000000000000007, 0.45), (1, 1.0)],
         [1.05, 0.333, float("nan"), True, "0.5", None]),
        (Count("n", 1, 64), [(1, 1), (np.int64(64), 64)], [0, 65, 10**5, 2.0, True]),
        (Choice("lr", [1e-3, 2e-3]), [(0.002, 2e-3), (0.0020000000000000005, 2e-3)], [3e-3, "0.002", False]),
        (Choice("s", ["linear", "cosine"], dropdown=True), [("cosine", "cosine")], ["quadratic", 1]),
    ],
)
def test_knobs_snap_float_noise_and_refuse_everything_else(knob, good, bad):
    for value, kept in good:
        assert knob.check("k", value) == kept
    for value in bad:
        with pytest.raises(ValueError, match="k must"):
            knob.check("k", value)


def test_a_refused_value_leaves_knobs_controls_and_figure_unchanged_and_says_why():
    flow = ProbabilityFlowExplorer()
    box = flow.widget()
    status = box.children[0].children[-1]
    before, png = flow.values, flow.png
    for values, words in ((dict(weight_1=-0.05), "weight_1"), (dict(n_trajectories=10**5), "n_trajectories"),
                          (dict(t=0.3, mean_1=9.0), "mean_1")):
        with pytest.raises(ValueError, match=words):
            flow.set(**values)
        assert flow.values == before and flow.png == png and flow._widgets["t"].value == before["t"]
        assert words in flow.message and words in status.value
    flow._widgets["weight_1"].value = 0.0  # all weights zero, as the sliders can do it
    flow._widgets["weight_2"].value = 0.0
    assert flow.values["weight_2"] == 0.2 and flow._widgets["weight_2"].value == 0.2
    assert "weight" in status.value
    flow.set(t=0.4)
    assert status.value == "" and flow.values["t"] == 0.4


def test_an_error_while_drawing_puts_everything_back(monkeypatch):
    """Any failure inside update or render: the previous knobs, artists and picture stay."""
    step = InductiveStepExplorer()
    step.widget()
    before, png = step.values, step.png
    pair = [a.get_xydata().copy() for a in step.artists["pair"][:3]]

    def failing_render(moved=None):
        raise RuntimeError("the canvas is gone")

    monkeypatch.setattr(step, "render", failing_render)
    with pytest.raises(RuntimeError, match="canvas"):
        step.set(x_1=1.0)
    monkeypatch.undo()
    assert step.values == before and step.png == png and step._widgets["x_1"].value == before["x_1"]
    assert "canvas" in step.message
    for artist, data in zip(step.artists["pair"][:3], pair):
        np.testing.assert_array_equal(artist.get_xydata(), data)
    step.set(x_1=1.0)  # the next render starts afresh: the same pixels as a new explorer
    assert step.png == InductiveStepExplorer(**step.values).png


def test_the_layout_puts_the_controls_beside_a_figure_that_fits_the_window():
    box = ProbabilityFlowExplorer().widget()
    controls, image = box.children
    assert isinstance(image, ipywidgets.Image) and box.layout.flex_flow == "row wrap"
    assert "100vh" in image.layout.max_height and "100%" in image.layout.max_width
    assert controls.layout.width == "300px"


def test_the_explorer_png_is_a_lossless_picture_of_the_canvas():
    import io

    from PIL import Image

    from cmtoy.viz.widgets import InductiveStepExplorer

    explorer = InductiveStepExplorer()
    canvas = np.asarray(explorer.figure.canvas.buffer_rgba())[..., :3]
    decoded = np.asarray(Image.open(io.BytesIO(explorer.png)).convert("RGB"))
    assert decoded.shape == canvas.shape and np.array_equal(decoded, canvas)
