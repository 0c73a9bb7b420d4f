"""The local runner on real trial processes: success, failure, timeout, bad metrics."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest
from kubetune.api import Reason, load_tuningjobs
from kubetune.api.status import ConditionType, TrialReason
from kubetune.runtime.runner import RunPaths, RunReport, run_local
from kubetune.trials import TrialState
from optuna_dashboard._storage_url import guess_storage_from_url

from .conftest import ManifestWriter


def is_running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def run(path: Path, output: Path, storage: str | None = None) -> RunReport:
    (job,) = load_tuningjobs(path)
    return run_local(job, base_dir=path.parent, paths=RunPaths.for_job(job, output, storage))


def test_successful_study_finds_the_best_trial(
    write_manifest: ManifestWriter, tmp_path: Path
) -> None:
    report = run(write_manifest(max_trials=6, parallel=2), tmp_path / "runs")

    assert report.completion is not None
    assert report.completion.type is ConditionType.COMPLETE
    assert report.completion.reason is Reason.MAX_TRIALS_REACHED
    assert [t.number for t in report.trials] == list(range(6))
    assert all(t.state is TrialState.COMPLETE for t in report.trials)
    for trial in report.trials:  # the objective is the JSON line's loss, computed from x
        assert trial.objective == pytest.approx((float(trial.params["x"]) - 0.3) ** 2, abs=1e-9)
    best = min(report.trials, key=lambda t: t.objective or 0.0)
    assert best.objective == min(t.objective or 0.0 for t in report.trials)
    logs = sorted(p.name for p in report.paths.logs.iterdir())
    assert logs == [f"local-test-{n}.log" for n in sorted(range(6), key=str)]


def test_study_opens_in_optuna_dashboard(write_manifest: ManifestWriter, tmp_path: Path) -> None:
    report = run(write_manifest(max_trials=2), tmp_path / "runs")

    storage = guess_storage_from_url(report.paths.storage)
    study = optuna.load_study(study_name="local-test", storage=storage)
    assert len(study.trials) == 2
    assert study.best_value == min(t.objective or 0.0 for t in report.trials)
    # without early stopping, no intermediate value is journaled (nothing judges them)
    assert study.trials[0].intermediate_values == {}


def test_storage_url_overrides_the_journal(write_manifest: ManifestWriter, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    report = run(write_manifest(max_trials=2), tmp_path / "runs", storage=url)

    assert report.paths.storage == url
    assert len(optuna.load_study(study_name="local-test", storage=url).trials) == 2
    assert not (tmp_path / "runs" / "local-test" / "study.journal").exists()


def test_failing_trials_are_recorded_and_end_the_run(
    write_manifest: ManifestWriter, tmp_path: Path
) -> None:
    path = write_manifest(mode="fail", max_trials=10, parallel=1, limits={"maxFailedTrials": 1})
    report = run(path, tmp_path / "runs")

    assert report.completion is not None
    assert report.completion.type is ConditionType.FAILED
    assert report.completion.reason is Reason.MAX_FAILED_TRIALS_EXCEEDED
    assert [t.state for t in report.trials] == [TrialState.FAILED, TrialState.FAILED]
    assert report.trials[0].reason == TrialReason.ERROR
    assert "exited with code 3" in (report.trials[0].message or "")
    assert "training blew up" in (report.trials[0].message or "")


def test_trial_timeout_kills_the_whole_process_tree(
    write_manifest: ManifestWriter, tmp_path: Path
) -> None:
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    path = write_manifest(
        mode="hang",
        max_trials=1,
        parallel=1,
        extra_args=(f"--pid-dir={pid_dir}",),
        limits={"trialTimeout": "1s", "maxFailedTrials": 1},
    )
    report = run(path, tmp_path / "runs")

    (trial,) = report.trials
    assert trial.state is TrialState.FAILED
    assert trial.reason == TrialReason.DEADLINE_EXCEEDED
    for pid in (int(pid) for pid in (pid_dir / "0.pid").read_text().split()):
        assert wait_until_gone(pid, timeout=10), f"process {pid} of the timed-out trial survived"


@pytest.mark.parametrize(
    ("mode", "message"),
    [("silent", "never reported metric 'loss'"), ("nan", "metric 'loss' is nan")],
)
def test_missing_or_nan_metrics_fail_the_trial(
    write_manifest: ManifestWriter, tmp_path: Path, mode: str, message: str
) -> None:
    report = run(write_manifest(mode=mode, max_trials=2, parallel=2), tmp_path / "runs")

    assert report.completion is not None
    assert report.completion.type is ConditionType.FAILED  # nothing succeeded
    for trial in report.trials:
        assert trial.state is TrialState.FAILED
        assert trial.reason == TrialReason.METRICS_UNAVAILABLE
        assert message in (trial.message or "")


def test_target_stops_the_run(write_manifest: ManifestWriter, tmp_path: Path) -> None:
    path = write_manifest(max_trials=50, parallel=1, objective={"target": 0.05})
    report = run(path, tmp_path / "runs")

    assert report.completion is not None
    assert report.completion.reason is Reason.TARGET_REACHED
    finished = [t for t in report.trials if t.state is TrialState.COMPLETE]
    assert (finished[-1].objective or 1.0) <= 0.05
    assert all((t.objective or 1.0) > 0.05 for t in finished[:-1])
    assert len(report.trials) < 50


def test_rerun_of_a_finished_study_runs_nothing_new(
    write_manifest: ManifestWriter, tmp_path: Path
) -> None:
    path = write_manifest(max_trials=3)
    first = run(path, tmp_path / "runs")
    second = run(path, tmp_path / "runs")

    assert second.completion is not None
    assert second.completion.reason is Reason.MAX_TRIALS_REACHED
    assert [(t.number, t.params, t.objective) for t in second.trials] == [
        (t.number, t.params, t.objective) for t in first.trials
    ]


def test_launch_failure_is_a_failed_trial(write_manifest: ManifestWriter, tmp_path: Path) -> None:
    path = write_manifest(max_trials=1, limits={"maxFailedTrials": 0})
    path.write_text(path.read_text().replace("- python", "- /no/such/interpreter"))
    report = run(path, tmp_path / "runs")

    (trial,) = report.trials
    assert trial.state is TrialState.FAILED
    assert trial.reason == TrialReason.LAUNCH_FAILED
