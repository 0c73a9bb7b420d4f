"""The operator's own metrics, served on ``/metrics`` beside ``/healthz`` and ``/readyz``.

prometheus-client collectors in a dedicated registry (not the process-global one, so tests and
embedding stay independent). Names follow Prometheus conventions: the ``kubetune_`` prefix, base
units (seconds), ``_total`` for counters. Per-TuningJob series are removed when the TuningJob is
deleted, so a long-running operator does not accumulate them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

STATES = ("active", "succeeded", "failed", "pruned")
APIS = ("kubernetes", "prometheus")
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400)
SUGGESTION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class OperatorMetrics:
    """Every collector the operator exports, and how its tuning loops update them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = ("namespace", "tuningjob")
        self.trials = Gauge(
            "kubetune_trials",
            "Trials of a TuningJob by state (active, succeeded, failed, pruned).",
            (*labels, "state"),
            registry=self.registry,
        )
        self.best_objective = Gauge(
            "kubetune_best_objective",
            "The best objective value a TuningJob's trials reached so far.",
            labels,
            registry=self.registry,
        )
        self.pareto_front_size = Gauge(
            "kubetune_pareto_front_size",
            "Trials on the Pareto front of a multi-objective TuningJob (spec.objectives).",
            labels,
            registry=self.registry,
        )
        self.trial_duration = Histogram(
            "kubetune_trial_duration_seconds",
            "Seconds from a trial's suggestion to its result, by how it ended.",
            ("namespace", "state"),
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.suggestion_duration = Histogram(
            "kubetune_suggestion_duration_seconds",
            "Seconds the search (Optuna's ask) took to suggest one trial's parameters.",
            ("namespace",),
            buckets=SUGGESTION_BUCKETS,
            registry=self.registry,
        )
        self.reconcile_duration = Histogram(
            "kubetune_reconcile_duration_seconds",
            "Seconds one reconcile step of a TuningJob took (study, cluster and status).",
            ("namespace",),
            buckets=RECONCILE_BUCKETS,
            registry=self.registry,
        )
        self.reconcile_errors = Counter(
            "kubetune_reconcile_errors_total",
            "Reconcile steps that failed and were retried with backoff, by error type.",
            ("namespace", "error"),
            registry=self.registry,
        )
        self.api_retries = Counter(
            "kubetune_api_retries_total",
            "Requests retried after a transient failure, by API (kubernetes, prometheus).",
            ("api",),
            registry=self.registry,
        )
        for api in APIS:  # exported at 0 from the start, so rate() sees the first retry
            self.api_retries.labels(api)
        self.metrics_source_available = Gauge(
            "kubetune_metrics_source_available",
            "1 while a TuningJob's metrics source (Prometheus) answers, 0 while it does not.",
            labels,
            registry=self.registry,
        )

    def record_step(
        self,
        namespace: str,
        tuningjob: str,
        status: Mapping[str, Any],
        seconds: float,
        suggestions: Iterable[float] = (),
        durations: Iterable[tuple[str, float]] = (),
        source_available: bool | None = None,
    ) -> None:
        """After a reconcile step: the counts and best objective of ``status``, and timings."""
        self.reconcile_duration.labels(namespace).observe(seconds)
        counts = status.get("trials") or {}
        for state in STATES:
            self.trials.labels(namespace, tuningjob, state).set(counts.get(state, 0))
        best = (status.get("bestTrial") or {}).get("objective")
        if best is not None:
            self.best_objective.labels(namespace, tuningjob).set(best)
        front = status.get("paretoFrontSize")
        if front is not None:
            self.pareto_front_size.labels(namespace, tuningjob).set(front)
        for each in suggestions:
            self.suggestion_duration.labels(namespace).observe(each)
        for state, duration in durations:
            self.trial_duration.labels(namespace, state).observe(duration)
        if source_available is not None:
            self.metrics_source_available.labels(namespace, tuningjob).set(
                1 if source_available else 0
            )

    def record_error(self, namespace: str, error: BaseException) -> None:
        """A failed reconcile step, retried with backoff. Not counted in ``api_retries``: that
        counts requests retried where they are made (the study journal, the Prometheus client)."""
        self.reconcile_errors.labels(namespace, type(error).__name__).inc()

    def forget(self, namespace: str, tuningjob: str) -> None:
        """Remove the series of a deleted TuningJob."""
        for state in STATES:
            _remove(self.trials, namespace, tuningjob, state)
        _remove(self.best_objective, namespace, tuningjob)
        _remove(self.pareto_front_size, namespace, tuningjob)
        _remove(self.metrics_source_available, namespace, tuningjob)

    def names(self) -> set[str]:
        """Every series name this registry exports (what dashboards may query)."""
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
            "gauge": ("",),
        }
        return {
            family.name + suffix
            for family in self.registry.collect()
            for suffix in suffixes.get(family.type, ("",))
        }


def _remove(gauge: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never set
        gauge.remove(*labels)
