"""The operator's own metrics: names and units by Prometheus conventions, per-TuningJob series
removed with their TuningJob, and a Grafana dashboard that only uses what is exported."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kubetune.operator.metrics import OperatorMetrics
from kubetune.runtime.kubernetes.journal import StudyJournalError
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parents[3] / "charts" / "kubetune" / "dashboards"


def exported(metrics: OperatorMetrics) -> dict[str, float]:
    text = generate_latest(metrics.registry).decode()
    return {
        sample.name + json.dumps(sample.labels, sort_keys=True): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_names_follow_prometheus_conventions() -> None:
    names = OperatorMetrics().names()
    assert all(name.startswith("kubetune_") for name in names)
    assert {"kubetune_reconcile_errors_total", "kubetune_api_retries_total"} <= names
    for histogram in ("trial_duration", "suggestion_duration", "reconcile_duration"):
        assert f"kubetune_{histogram}_seconds_bucket" in names  # base unit: seconds


def test_a_step_sets_counts_best_objective_and_timings() -> None:
    metrics = OperatorMetrics()
    status = {
        "trials": {"active": 1, "succeeded": 3, "failed": 1, "pruned": 2, "total": 7},
        "bestTrial": {"objective": 0.25},
    }
    metrics.record_step(
        "ml", "gbm", status, 0.02, suggestions=[0.01, 0.01], durations=[("Pruned", 12.0)]
    )
    values = exported(metrics)
    assert values['kubetune_trials{"namespace": "ml", "state": "pruned", "tuningjob": "gbm"}'] == 2
    assert values['kubetune_best_objective{"namespace": "ml", "tuningjob": "gbm"}'] == 0.25
    assert values['kubetune_suggestion_duration_seconds_count{"namespace": "ml"}'] == 2
    assert (
        values['kubetune_trial_duration_seconds_count{"namespace": "ml", "state": "Pruned"}'] == 1
    )

    metrics.record_error("ml", OSError("connection reset"))
    values = exported(metrics)
    assert values['kubetune_reconcile_errors_total{"error": "OSError", "namespace": "ml"}'] == 1
    # a failed step is not an API retry: those are counted where requests are retried
    assert values['kubetune_api_retries_total{"api": "kubernetes"}'] == 0

    metrics.record_step("ml", "front", {"trials": {}, "paretoFrontSize": 7}, 0.01)
    values = exported(metrics)
    assert values['kubetune_pareto_front_size{"namespace": "ml", "tuningjob": "front"}'] == 7
    assert 'kubetune_pareto_front_size{"namespace": "ml", "tuningjob": "gbm"}' not in values

    metrics.forget("ml", "gbm")
    metrics.forget("ml", "front")
    assert not [key for key in exported(metrics) if '"tuningjob": "' in key]


def test_api_retries_are_exported_per_api_from_the_start() -> None:
    metrics = OperatorMetrics()
    values = exported(metrics)
    assert values['kubetune_api_retries_total{"api": "kubernetes"}'] == 0
    assert values['kubetune_api_retries_total{"api": "prometheus"}'] == 0

    metrics.api_retries.labels("kubernetes").inc()
    metrics.record_error("ml", StudyJournalError("could not append"))
    values = exported(metrics)
    assert values['kubetune_api_retries_total{"api": "kubernetes"}'] == 1
    assert values['kubetune_api_retries_total{"api": "prometheus"}'] == 0
    key = 'kubetune_reconcile_errors_total{"error": "StudyJournalError", "namespace": "ml"}'
    assert values[key] == 1


def test_dashboard_uses_only_metrics_the_operator_exports() -> None:
    dashboard = json.loads((DASHBOARD / "kubetune.json").read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    expressions += [
        variable["definition"]
        for variable in dashboard["templating"]["list"]
        if "definition" in variable
    ]
    used = {token for expr in expressions for token in re.findall(r"\bkubetune_\w+", expr)}
    names = OperatorMetrics().names()
    assert used <= names, used - names
    for family in ("trials", "best_objective", "trial_duration", "suggestion_duration"):
        assert any(name.startswith(f"kubetune_{family}") for name in used), family
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
