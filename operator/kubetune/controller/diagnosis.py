"""The bias/variance diagnosis of a study: is the best model underfitting (high bias),
overfitting (high variance), both, or validated on data unlike the test data?

Errors are compared as in the usual workflow (human-level or best achievable error, training
error, validation error, test error):

- avoidable bias = train error - baseline
- variance       = validation error - train error
- mismatch       = test error - validation error

Each gap is judged relative to the validation error (the objective): a gap above its threshold
(default 25% of the validation error) is a finding. For ``direction: maximize`` objectives (an
accuracy, an F1 score) every value, the baseline included, is turned into an error as
``1 - value``.

All of it is pure: trial records and settings in, a :class:`Diagnosis` out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kubetune.api.spec import TuningJobSpec
from kubetune.api.status import DiagnosisStatus, DiagnosisVerdict
from kubetune.controller.completion import best_trial
from kubetune.trials import TrialRecord, TrialState

OK = DiagnosisVerdict.OK.value
HIGH_BIAS = DiagnosisVerdict.HIGH_BIAS.value
HIGH_VARIANCE = DiagnosisVerdict.HIGH_VARIANCE.value
BOTH = DiagnosisVerdict.BOTH.value
MISMATCH = DiagnosisVerdict.TRAIN_TEST_MISMATCH.value
UNKNOWN = DiagnosisVerdict.UNKNOWN.value

NEXT_STEPS: Mapping[str, tuple[str, ...]] = {
    HIGH_BIAS: (
        "train a bigger model (more layers or units, deeper trees)",
        "train longer or with a better optimizer",
        "try a new model architecture",
        "use less regularization",
    ),
    HIGH_VARIANCE: (
        "get more training data (or augment it)",
        "add regularization (L2, dropout, weight decay)",
        "stop training early",
        "try a smaller model or a new architecture",
    ),
    MISMATCH: (
        "make the validation and test sets come from one distribution",
        "add training data that looks like the test data",
    ),
    OK: (
        "the gaps are within the thresholds: more trials or a wider search space may still "
        "lower the error",
    ),
}


@dataclass(frozen=True)
class Thresholds:
    """A gap is a finding above this fraction of the validation error."""

    bias: float = 0.25
    variance: float = 0.25
    mismatch: float = 0.25


@dataclass(frozen=True)
class DiagnosisSettings:
    """What ``spec.diagnosis`` says: which additional metrics are the train and test errors,
    the baseline error, the thresholds; and the objective's name and direction."""

    objective: str
    direction: str  # minimize | maximize
    train_metric: str
    test_metric: str | None = None
    baseline: float | None = None  # in the objective's units
    thresholds: Thresholds = field(default_factory=Thresholds)

    def error(self, value: float) -> float:
        """A value of the objective's metric as an error (lower is better)."""
        return 1.0 - value if self.direction == "maximize" else value


@dataclass(frozen=True)
class Gaps:
    """One trial's errors and the gaps between them (objective units, as errors)."""

    baseline: float
    train: float
    validation: float
    test: float | None

    @property
    def bias(self) -> float:
        return self.train - self.baseline

    @property
    def variance(self) -> float:
        return self.validation - self.train

    @property
    def mismatch(self) -> float | None:
        return None if self.test is None else self.test - self.validation


@dataclass(frozen=True)
class Diagnosis:
    verdict: str
    message: str
    trial: int | None = None  # the trial judged (the best)
    gaps: Gaps | None = None
    findings: tuple[str, ...] = ()
    next_steps: tuple[str, ...] = ()
    study_verdicts: Mapping[str, int] = field(default_factory=dict)  # verdict -> trials
    gap_importances: tuple[tuple[str, float], ...] = ()  # parameter, share of the gap's variance


def gaps_of(trial: TrialRecord, settings: DiagnosisSettings) -> Gaps | None:
    """The trial's errors, or None when it lacks the objective or the train metric."""
    if trial.state is not TrialState.COMPLETE or trial.objective is None:
        return None
    train = trial.metrics.get(settings.train_metric)
    if train is None:
        return None
    test = trial.metrics.get(settings.test_metric) if settings.test_metric else None
    baseline = settings.error(settings.baseline) if settings.baseline is not None else 0.0
    return Gaps(
        baseline=baseline,
        train=settings.error(float(train)),
        validation=settings.error(trial.objective),
        test=None if test is None else settings.error(float(test)),
    )


def findings_of(gaps: Gaps, thresholds: Thresholds) -> tuple[str, ...]:
    scale = max(abs(gaps.validation), abs(gaps.train), 1e-12)
    found = []
    if gaps.bias > thresholds.bias * scale:
        found.append(HIGH_BIAS)
    if gaps.variance > thresholds.variance * scale:
        found.append(HIGH_VARIANCE)
    mismatch = gaps.mismatch
    if mismatch is not None and mismatch > thresholds.mismatch * scale:
        found.append(MISMATCH)
    return tuple(found)


def verdict_of(findings: Sequence[str]) -> str:
    if HIGH_BIAS in findings and HIGH_VARIANCE in findings:
        return BOTH
    for verdict in (HIGH_BIAS, HIGH_VARIANCE, MISMATCH):
        if verdict in findings:
            return verdict
    return OK


def _steps(findings: Sequence[str]) -> tuple[str, ...]:
    steps: list[str] = []
    for finding in findings or (OK,):
        steps.extend(NEXT_STEPS[finding])
    return tuple(steps)


def _number(value: float) -> str:
    return f"{value:.4g}"


def _message(gaps: Gaps, findings: Sequence[str], settings: DiagnosisSettings) -> str:
    maximize = settings.direction == "maximize"
    unit = " (as 1 - value)" if maximize else ""
    parts = [
        f"validation error {_number(gaps.validation)} vs train {_number(gaps.train)}"
        + (f" and test {_number(gaps.test)}" if gaps.test is not None else "")
        + f" (baseline {_number(gaps.baseline)}){unit}"
    ]
    words = {
        HIGH_BIAS: f"avoidable bias {_number(gaps.bias)} is high",
        HIGH_VARIANCE: f"variance (validation - train) {_number(gaps.variance)} is high",
        MISMATCH: f"test - validation {_number(gaps.mismatch or 0.0)} suggests the test data "
        "differs from the validation data",
    }
    parts.extend(words[finding] for finding in findings)
    if not findings:
        parts.append("no gap above its threshold")
    return "; ".join(parts)


def diagnose(
    trials: Sequence[TrialRecord],
    best: TrialRecord | None,
    settings: DiagnosisSettings,
    gap_importance: Callable[[], Mapping[str, float]] | None = None,
) -> Diagnosis:
    """The verdict for ``best`` (the study's best trial), the verdicts of every trial with
    the metrics, and (when ``gap_importance`` is given and can tell) which parameters move the
    train/validation gap most."""
    per_trial = Counter(
        verdict_of(findings_of(g, settings.thresholds))
        for g in (gaps_of(t, settings) for t in trials)
        if g is not None
    )
    gaps = gaps_of(best, settings) if best is not None else None
    if gaps is None:
        missing = (
            "no trial has succeeded yet"
            if best is None
            else f"the best trial did not report {settings.train_metric}"
        )
        return Diagnosis(UNKNOWN, f"cannot diagnose: {missing}", study_verdicts=dict(per_trial))
    findings = findings_of(gaps, settings.thresholds)
    importances: tuple[tuple[str, float], ...] = ()
    if gap_importance is not None:
        found = gap_importance()
        total = sum(found.values())
        if total > 0 and all(math.isfinite(v) for v in found.values()):
            ranked = sorted(found.items(), key=lambda item: -item[1])
            importances = tuple((name, value / total) for name, value in ranked)
    return Diagnosis(
        verdict=verdict_of(findings),
        message=_message(gaps, findings, settings),
        trial=best.number if best is not None else None,
        gaps=gaps,
        findings=findings,
        next_steps=_steps(findings),
        study_verdicts=dict(per_trial),
        gap_importances=importances,
    )


def settings_of(
    spec: TuningJobSpec, thresholds: Thresholds | None = None
) -> DiagnosisSettings | None:
    """What ``spec.diagnosis`` asks for, if anything (``thresholds`` override its own)."""
    block = spec.diagnosis
    if block is None or spec.objective is None:  # validation: no diagnosis with objectives
        return None
    own = block.thresholds
    return DiagnosisSettings(
        objective=spec.objective.metric,
        direction=spec.objective.direction,
        train_metric=block.train_metric,
        test_metric=block.test_metric,
        baseline=block.baseline,
        thresholds=thresholds or Thresholds(own.bias, own.variance, own.mismatch),
    )


def diagnosis_status(spec: TuningJobSpec, trials: Sequence[TrialRecord]) -> DiagnosisStatus | None:
    """``status.diagnosis`` of a finished study with ``spec.diagnosis``: the verdict on its
    best trial and the message with the numbers."""
    settings = settings_of(spec)
    if settings is None:
        return None
    found = diagnose(trials, best_trial(spec, trials), settings)
    return DiagnosisStatus(
        verdict=DiagnosisVerdict(found.verdict), message=found.message, trial=found.trial
    )
