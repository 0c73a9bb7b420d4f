"""What every report says about a study, in the terminal and at the top of the HTML page."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from rich.text import Text

from kubetune.api.spec import TuningJobSpec, is_feasible
from kubetune.controller.completion import best_trial
from kubetune.controller.diagnosis import (
    OK,
    Diagnosis,
    DiagnosisSettings,
    Thresholds,
    diagnose,
    settings_of,
)
from kubetune.report.source import StudyReport
from kubetune.search.pareto import pareto_trials
from kubetune.search.records import ATTR_METRICS
from kubetune.trials import TrialRecord, TrialState


@dataclass(frozen=True)
class Summary:
    report: StudyReport
    best: TrialRecord | None
    conditions: tuple[str, ...]
    diagnosis: Diagnosis | None

    def top(self, count: int) -> list[TrialRecord]:
        """The ``count`` best completed trials, best first."""
        return ranked(self.report.job.spec, self.report.trials)[:count]


def objective_values(spec: TuningJobSpec, trial: TrialRecord) -> dict[str, float]:
    """The trial's value of each objective it has, by metric name."""
    if spec.multi_objective:
        return dict(zip(spec.objective_metrics, trial.values or (), strict=False))
    return {} if trial.objective is None else {spec.objective_metrics[0]: trial.objective}


def marked_trials(spec: TuningJobSpec, trials: Sequence[TrialRecord]) -> set[int]:
    """The numbers of the trials a table marks: the best one, or the Pareto front."""
    if spec.multi_objective:
        return {t.number for t in pareto_trials(spec, trials)}
    best = best_trial(spec, trials)
    return set() if best is None else {best.number}


def ranked(spec: TuningJobSpec, trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Completed trials, best first: feasible ones (``spec.constraints``) before the others,
    each by objective. With several objectives: the Pareto front, by trial number."""
    if spec.objective is None:
        return pareto_trials(spec, trials)
    completed = [t for t in trials if t.state is TrialState.COMPLETE and t.objective is not None]
    sign = -1.0 if spec.objective.direction == "maximize" else 1.0
    return sorted(
        completed,
        key=lambda t: (not is_feasible(spec.constraints, t.metrics), sign * (t.objective or 0.0)),
    )


def gap_importances(study: optuna.Study, settings: DiagnosisSettings) -> Mapping[str, float]:
    """fANOVA importance of each parameter on the validation - train gap, over the trials that
    reported the train metric; empty when fewer than two did."""
    from optuna.trial import TrialState as OptunaState
    from optuna.trial import create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    gaps = optuna.create_study(direction="minimize")
    for trial in study.get_trials(deepcopy=False, states=(OptunaState.COMPLETE,)):
        train = (trial.user_attrs.get(ATTR_METRICS) or {}).get(settings.train_metric)
        if train is None or trial.values is None:
            continue
        gap = settings.error(trial.values[0]) - settings.error(float(train))
        gaps.add_trial(
            create_trial(params=trial.params, distributions=trial.distributions, value=gap)
        )
    if len(gaps.trials) < 2:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return optuna.importance.get_param_importances(gaps)
        except (ValueError, RuntimeError):
            return {}


def _conditions(status: Mapping[str, Any]) -> tuple[str, ...]:
    found = []
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True":
            text = f"{condition.get('type')}: {condition.get('reason', '')}"
            if condition.get("message"):
                text += f" — {condition['message']}"
            found.append(text)
    return tuple(found)


def summarize(report: StudyReport, thresholds: Thresholds | None = None) -> Summary:
    best = best_trial(report.job.spec, report.trials)
    settings = settings_of(report.job.spec, thresholds)
    diagnosis = None
    if settings is not None:
        diagnosis = diagnose(
            report.trials, best, settings, lambda: gap_importances(report.study, settings)
        )
    return Summary(report, best, _conditions(report.status), diagnosis)


def diagnosis_text(diagnosis: Diagnosis) -> Text:
    style = "green" if diagnosis.verdict == OK else "yellow"
    text = Text("Diagnosis", style="bold")
    if diagnosis.trial is not None:
        text.append(f" (best trial {diagnosis.trial})", style="bold")
    text.append(": ")
    text.append(diagnosis.verdict, style=f"bold {style}")
    text.append(f"\n  {diagnosis.message}")
    if diagnosis.study_verdicts:
        counted = ", ".join(f"{n} {v}" for v, n in sorted(diagnosis.study_verdicts.items()))
        text.append(f"\n  all trials: {counted}")
    for step in diagnosis.next_steps:
        text.append(f"\n  - {step}")
    if diagnosis.gap_importances:
        moved = ", ".join(f"{name} {share:.0%}" for name, share in diagnosis.gap_importances[:3])
        text.append(f"\n  the train/validation gap moved most with: {moved}")
    return text
