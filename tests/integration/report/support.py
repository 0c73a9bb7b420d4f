"""Shared by the report tests: manifests of the bias/variance trainer and what a page drew."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.chromium import Page

TRAINER = Path(__file__).with_name("bias_variance.py")

SPACES = {
    "bias": ((1, 2), (1e-3, 10.0)),
    "variance": ((9, 12), (1e-12, 1e-9)),
    "both": ((3, 4), (3e-2, 1e-1)),
    "mismatch": ((5, 7), (1e-6, 1e-3)),
}


def manifest(
    name: str,
    case: str,
    max_trials: int = 6,
    epochs: int = 0,
    epoch_seconds: float = 0.0,
    spec: dict[str, Any] | None = None,
    python: str = sys.executable,
) -> dict[str, Any]:
    (low_degree, high_degree), (low_alpha, high_alpha) = SPACES[case]
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "TuningJob",
        "metadata": {"name": name},
        "spec": {
            "objective": {
                "metric": "validation-rmse",
                "direction": "minimize",
                "additionalMetrics": ["train-rmse", "test-rmse"],
            },
            "parameters": [
                {"name": "degree", "type": "int", "min": low_degree, "max": high_degree},
                {
                    "name": "alpha",
                    "type": "float",
                    "min": low_alpha,
                    "max": high_alpha,
                    "scale": "log",
                },
            ],
            "strategy": {"algorithm": "random", "seed": 4},
            "limits": {"maxTrials": max_trials, "parallelTrials": 1},
            "trialTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "train",
                                    "image": "example.com/bias-variance:1",
                                    "command": [
                                        python,
                                        str(TRAINER),
                                        f"--case={case}",
                                        "--degree=${params.degree}",
                                        "--alpha=${params.alpha}",
                                        f"--epochs={epochs}",
                                        f"--epoch-seconds={epoch_seconds}",
                                    ],
                                }
                            ]
                        }
                    }
                }
            },
            **(spec or {}),
        },
    }


# For each plot of the page: its traces, each with the number of points it draws.
PLOTS_JS = """
Array.from(document.querySelectorAll('[data-plot]')).map(section => {
  const plot = section.querySelector('.js-plotly-plot');
  const traces = (plot && plot.data) || [];
  const points = trace => {
    for (const key of ['x', 'y', 'values']) {
      if (trace[key] && trace[key].length) return trace[key].length;
    }
    if (trace.dimensions) return Math.max(0, ...trace.dimensions.map(d => d.values.length));
    return 0;
  };
  const svg = plot ? plot.querySelectorAll('svg .plot *, svg .cartesianlayer path, ' +
    'svg .parcoords path, svg .trace').length : 0;
  return {key: section.dataset.plot, traces: traces.map(t => ({name: t.name || '',
    points: points(t), symbols: (t.marker && t.marker.symbol) || null})), drawn: svg};
})
"""


def drawn_plots(page: Page) -> dict[str, dict[str, Any]]:
    return {plot["key"]: plot for plot in page.evaluate(PLOTS_JS)}


def assert_every_plot_has_data(plots: dict[str, dict[str, Any]]) -> None:
    assert plots, "the page has no plot"
    for key, plot in plots.items():
        assert plot["traces"], f"plot {key} has no trace"
        assert sum(t["points"] for t in plot["traces"]) > 0, f"plot {key} has no point: {plot}"
        assert plot["drawn"] > 0, f"plotly drew no SVG element for {key}"
