"""Everything of cmtoy that draws (matplotlib) or wires sliders (ipywidgets).

==========================  ===========================================================
``plotting``                the seed page's figure template, ``plot_*`` blocks, style,
                            colours and ``save_figure``
``figures``                 the seed page's figures and the registry of all figures
``learned_figures``         figures of a trained model, scored against the exact one
``flow_map_figures``        figures of a trained two-time flow map, scored the same way
``knobs``                   the values each knob may take and the control that sets it
``explorer``                the slider machinery: a blitted Agg figure, widgets, one lock
``widgets``                 explorers of the exact flow and the inductive step
``learned_widgets``         explorers that train a model and sample from one
==========================  ===========================================================

Nothing outside this package imports matplotlib or ipywidgets (a test checks it), so
``import cmtoy`` stays light; import these modules explicitly.
"""
