"""Which SOURCE names a cluster TuningJob, and the errors for sources that name nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubetune.report.cluster import tuningjob_name
from kubetune.report.source import SourceError, resolve


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("tuningjob/gbm", "gbm"),
        ("tuningjobs/gbm", "gbm"),
        ("tj/gbm", "gbm"),
        ("TuningJob/gbm", "gbm"),
        ("tuningjob.kubetune.io/gbm", "gbm"),
        ("tuningjobs.v1alpha1.kubetune.io/gbm", "gbm"),
        ("examples/quickstart.yaml", None),
        ("kubetune-runs/gbm", None),
        ("tuningjob/", None),
        ("tuningjob/a/b", None),
        ("gbm", None),
    ],
)
def test_tuningjob_name(source: str, name: str | None) -> None:
    assert tuningjob_name(source) == name


def test_a_missing_source_says_what_a_source_is(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no such manifest or run directory .*tuningjob/NAME"):
        resolve(str(tmp_path / "nothing.yaml"))


def test_a_directory_without_a_study_is_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"is not a run directory: it has no study\.journal"):
        resolve(str(tmp_path))


def test_a_run_directory_without_its_manifest_asks_for_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "study.journal").write_text("")
    with pytest.raises(SourceError, match=r"has no tuningjob\.yaml .*give the manifest instead"):
        resolve(str(tmp_path))


def test_records_leave_out_the_warm_start_trials_of_parents() -> None:
    import optuna
    from kubetune.api import parse_tuningjob
    from kubetune.report.source import records
    from kubetune.search.warm_start import ATTR_WARM_START

    from tests.unit.manifests import manifest

    job = parse_tuningjob(
        manifest(parameters=[{"name": "x", "type": "float", "min": 0.0, "max": 1.0}])
    )
    study = optuna.create_study()
    study.set_user_attr(ATTR_WARM_START, {"trials": 2})
    for value in (0.5, 0.4, 0.3):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": value},
                distributions={"x": optuna.distributions.FloatDistribution(0.0, 1.0)},
                value=value,
            )
        )
    found = records(job, study)
    assert [(r.number, r.objective) for r in found] == [(0, 0.3)]


def test_ranked_puts_feasible_trials_first_then_by_objective() -> None:
    from kubetune.api import parse_tuningjob
    from kubetune.report.summary import ranked
    from kubetune.trials import TrialRecord, TrialState

    from tests.unit.manifests import manifest

    document = manifest(objective={"additionalMetrics": ["memory"]})
    document["spec"]["constraints"] = [{"metric": "memory", "max": 10}]
    spec = parse_tuningjob(document).spec
    trials = [
        TrialRecord(0, TrialState.COMPLETE, {}, 0.1, {"memory": 50}),
        TrialRecord(1, TrialState.COMPLETE, {}, 0.3, {"memory": 5}),
        TrialRecord(2, TrialState.COMPLETE, {}, 0.2, {"memory": 5}),
        TrialRecord(3, TrialState.FAILED, {}),
    ]
    assert [t.number for t in ranked(spec, trials)] == [2, 1, 0]
