"""`kubetune run` as a user runs it: output, exit codes, Ctrl-C and resume."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest
from kubetune.search.storage import open_storage
from optuna.trial import TrialState

from .conftest import ManifestWriter
from .runs import interrupt_run, journal_of, kubetune, load_study


def test_run_prints_progress_and_the_best_trial(
    write_manifest: ManifestWriter, tmp_path: Path
) -> None:
    path = write_manifest(max_trials=3)
    result = kubetune("run", str(path), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "image example.com/trial:1 is ignored" in out
    assert "Complete: MaxTrialsReached" in out
    assert "Best trial" in out
    assert "3 trials (3 succeeded, 0 failed, 0 stopped)" in out
    assert (tmp_path / "kubetune-runs" / "local-test" / "study.journal").is_file()

    report = kubetune("report", str(path), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Best trial" in report.stdout


def test_failed_run_exits_non_zero(write_manifest: ManifestWriter, tmp_path: Path) -> None:
    path = write_manifest(mode="fail", max_trials=2, limits={"maxFailedTrials": 0})
    result = kubetune("run", str(path), cwd=tmp_path)

    assert result.returncode == 1
    assert "MaxFailedTrialsExceeded" in result.stdout


def test_invalid_manifest_is_reported_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: kubetune.io/v1alpha1\nkind: TuningJob\nmetadata: {name: x}\nspec: {}\n"
    )
    result = kubetune("run", str(path), cwd=tmp_path)

    assert result.returncode == 2
    assert "spec.objective: required" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ["--storage", "sqlite:////nonexistent/dir/x.db"],
            "cannot use --storage sqlite:////nonexistent/dir/x.db: unable to open database file",
        ),
        (
            ["--storage", "sqlite:/one-slash.db"],
            "cannot use --storage sqlite:/one-slash.db: Could not parse SQLAlchemy URL",
        ),
        (
            ["--storage", "{tmp}"],
            "cannot use --storage {tmp}: Is a directory: {tmp}",
        ),
        (
            ["--storage", "{tmp}/local-test.yaml"],
            "cannot use --storage {tmp}/local-test.yaml: not an Optuna journal file",
        ),
    ],
    ids=["sqlite-no-directory", "bad-url", "a-directory", "not-a-journal"],
)
def test_unusable_storage_is_reported_without_traceback(
    write_manifest: ManifestWriter, tmp_path: Path, options: list[str], expected: str
) -> None:
    path = write_manifest(max_trials=2)
    options = [option.format(tmp=tmp_path) for option in options]
    result = kubetune("run", str(path), *options, cwd=tmp_path)

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"local-test: {expected.format(tmp=tmp_path)}" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "kubetune-runs" / "local-test" / "trials").exists()  # nothing ran


def test_unusable_default_journal_is_named(write_manifest: ManifestWriter, tmp_path: Path) -> None:
    path = write_manifest(max_trials=2)
    journal = tmp_path / "kubetune-runs" / "local-test" / "study.journal"
    journal.mkdir(parents=True)
    result = kubetune("run", str(path), cwd=tmp_path)

    assert result.returncode == 2
    assert (
        "cannot use the study journal kubetune-runs/local-test/study.journal: Is a directory"
        in (" ".join(result.stderr.split()))
    )
    assert "Traceback" not in result.stderr


def completed_trials(journal: str) -> int:
    study = load_study(journal)
    trials = [] if study is None else study.get_trials(deepcopy=False)
    return sum(1 for t in trials if t.state is TrialState.COMPLETE)


def test_ctrl_c_keeps_finished_trials_and_rerun_resumes(
    write_manifest: ManifestWriter, tmp_path: Path
) -> None:
    path = write_manifest(mode="slow", max_trials=8, parallel=2)
    journal = journal_of(tmp_path)
    env = {**os.environ, "TRIAL_SECONDS": "0.4"}
    code, out, _ = interrupt_run(
        path,
        cwd=tmp_path,
        env=env,
        until=lambda: completed_trials(journal) >= 3,
        waiting_for=lambda: "trials never completed",
    )

    assert code == 130
    assert "Interrupted" in out
    study = optuna.load_study(study_name="local-test", storage=open_storage(journal))
    interrupted = {t.number: t.params for t in study.trials if t.state is TrialState.RUNNING}
    kept = {t.number: t.value for t in study.trials if t.state is TrialState.COMPLETE}
    assert len(kept) >= 3

    result = kubetune("run", str(path), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="local-test", storage=open_storage(journal))
    trials = study.trials
    assert len(trials) == 8  # no trial lost, none run twice
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert {t.number: t.value for t in trials if t.number in kept} == kept
    for number, params in interrupted.items():  # relaunched with the parameters they had
        assert trials[number].params == params
