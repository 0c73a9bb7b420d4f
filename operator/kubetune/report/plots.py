"""The figures of the HTML report, drawn by Optuna's visualization module (plotly).

Each plot is a :class:`Plot`: a title, what it shows, and a plotly figure, or a note saying why
the study cannot draw it yet (too few finished trials, one parameter, ...).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

Figure = Any  # plotly.graph_objects.Figure (plotly has no type hints)

# More curves than this make the page slow to draw and unreadable: the latest trials are drawn.
MAX_CURVES = 300
PRUNED_COLOR = "#d62728"
FINISHED_COLOR = "#1f77b4"


@dataclass(frozen=True)
class Plot:
    key: str  # a stable id for the page (and tests)
    title: str
    caption: str
    figure: Figure | None = None
    note: str | None = None  # why there is no figure


def _target(index: int) -> Callable[[FrozenTrial], float]:
    return lambda trial: float(trial.values[index])


def _draw(key: str, title: str, caption: str, draw: Callable[[], Figure]) -> Plot:
    """A plot, or a note when Optuna cannot draw it for this study."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning and friends: not for the reader
        try:
            figure = draw()
        except (ValueError, RuntimeError, ZeroDivisionError) as error:
            return Plot(key, title, caption, note=f"not drawn: {error}")
    if not any(_has_points(trace) for trace in figure.data):
        return Plot(key, title, caption, note="not drawn yet: no finished trial has a value")
    figure.update_layout(title=None, margin={"t": 30})
    return Plot(key, title, caption, figure)


def _has_points(trace: Any) -> bool:
    for name in ("x", "y", "dimensions", "values"):
        value = getattr(trace, name, None)
        if value is not None and len(value) > 0:
            return True
    return False


def intermediate_values(study: optuna.Study, metric: str) -> Figure:
    """Each trial's reported values by step; pruned trials dashed and red, ending in a cross."""
    import plotly.graph_objects as go

    figure = go.Figure()
    curves = [t for t in study.get_trials(deepcopy=False) if t.intermediate_values]
    for trial in curves[-MAX_CURVES:]:
        steps = sorted(trial.intermediate_values)
        values = [trial.intermediate_values[s] for s in steps]
        pruned = trial.state is OptunaState.PRUNED
        color = PRUNED_COLOR if pruned else FINISHED_COLOR
        figure.add_trace(
            go.Scatter(
                x=steps,
                y=values,
                mode="lines+markers",
                name=f"trial {trial.number}" + (" (pruned)" if pruned else ""),
                line={"color": color, "dash": "dash" if pruned else "solid", "width": 1},
                marker={
                    "color": color,
                    "size": [4] * (len(steps) - 1) + [10 if pruned else 4],
                    "symbol": ["circle"] * (len(steps) - 1) + ["x" if pruned else "circle"],
                },
                opacity=0.8,
            )
        )
    figure.update_layout(xaxis_title="step", yaxis_title=metric, showlegend=False)
    return figure


def _objective_plots(study: optuna.Study, index: int, name: str, several: bool) -> list[Plot]:
    """History, parallel coordinates, importances and slices of one objective."""
    from optuna import visualization as vis

    target = _target(index) if several else None
    suffix = f": {name}" if several else ""
    kinds: list[tuple[str, str, str, Callable[..., Figure]]] = [
        (
            "history",
            "Optimization history",
            f"{name} of each finished trial, and the best so far.",
            vis.plot_optimization_history,
        ),
        (
            "parallel",
            "Parallel coordinates",
            f"Each line a finished trial through its parameter values to its {name}.",
            vis.plot_parallel_coordinate,
        ),
        (
            "importance",
            "Parameter importances",
            f"How much of {name}'s variation each parameter explains (fANOVA).",
            vis.plot_param_importances,
        ),
        (
            "slice",
            "Slice plots",
            f"{name} against each parameter's values, by trial number.",
            vis.plot_slice,
        ),
    ]
    return [
        _draw(
            f"{key}-{index}",
            title + suffix,
            caption,
            partial(draw, study, target=target, target_name=name),
        )
        for key, title, caption, draw in kinds
    ]


def study_plots(study: optuna.Study, objective_names: list[str]) -> list[Plot]:
    """Every plot of the report for ``study``; several objectives add the Pareto front."""
    from optuna import visualization as vis

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.ERROR)
    plots: list[Plot] = []
    several = len(study.directions) > 1
    names = (
        objective_names
        if len(objective_names) == len(study.directions)
        else [f"objective {i}" for i in range(len(study.directions))]
    )
    if several:
        plots.append(
            _draw(
                "pareto-front",
                "Pareto front",
                "Trials no other trial beats on every objective (red: the front).",
                lambda: vis.plot_pareto_front(study, target_names=names),
            )
        )
    for index, name in enumerate(names):
        plots.extend(_objective_plots(study, index, name, several))
    if not several:
        plots.append(
            _draw(
                "intermediate-values",
                "Intermediate values",
                f"{names[0]} reported at each step; pruned (early-stopped) trials dashed in red, "
                f"ending in a cross (the latest {MAX_CURVES} trials at most).",
                lambda: intermediate_values(study, names[0]),
            )
        )
    return plots
