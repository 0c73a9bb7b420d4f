"""TuningJobs whose trials run ``curve_trial.py``: one learning curve per value of ``x``.

Shared by the local runner's and the operator's early-stopping and Prometheus tests: a seeded
grid over a categorical ``x`` runs the trials in a known order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CURVE_TRIAL = Path(__file__).with_name("curve_trial.py")


def curve_tuningjob(
    name: str,
    values: Sequence[float],
    args: Sequence[str],
    *,
    parallel: int = 1,
    max_trials: int | None = None,
    namespace: str | None = None,
    spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A TuningJob over ``x`` in ``values`` (grid, seed 1) whose trials run ``curve_trial.py
    --x=X *args``; ``spec`` adds fields to its spec (``earlyStopping``, ``metrics``)."""
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    command = ["python", str(CURVE_TRIAL), "--x=${params.x}", *args]
    container = {"name": "train", "image": "example.com/curve:1", "command": command}
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "TuningJob",
        "metadata": metadata,
        "spec": {
            "objective": {"metric": "loss", "direction": "minimize"},
            "parameters": [{"name": "x", "type": "categorical", "values": list(values)}],
            "strategy": {"algorithm": "grid", "seed": 1},
            "limits": {
                "maxTrials": len(values) if max_trials is None else max_trials,
                "parallelTrials": parallel,
            },
            "trialTemplate": {"spec": {"template": {"spec": {"containers": [container]}}}},
            **(spec or {}),
        },
    }


PUSHED_LOSS = 'trial_loss{trial="${trial.name}"}'  # what curve_trial.py --pushgateway pushes


def prometheus_metrics(url: str, query: str = PUSHED_LOSS, **source: Any) -> dict[str, Any]:
    """``spec.metrics`` reading the objective ``loss`` from Prometheus at ``url`` every second;
    ``source`` adds fields to ``metrics.prometheus`` (``bearerTokenSecret``, ``caSecret``)."""
    queries = [{"metric": "loss", "query": query}]
    prometheus = {"url": url, "interval": "1s", "queries": queries, **source}
    return {"source": "prometheus", "prometheus": prometheus}
