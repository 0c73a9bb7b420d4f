"""`kubetune run` interrupted, resumed later: maxRuntime counts the time it ran, not the pause."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from kubetune.search.storage import open_storage
from kubetune.search.study import ATTR_RUN_SECONDS, ATTR_STARTED_AT
from optuna.trial import TrialState

from .conftest import ManifestWriter

KUBETUNE = [sys.executable, "-m", "kubetune.cli"]
MAX_RUNTIME = 6.0


def load(journal: str) -> optuna.Study | None:
    try:
        return optuna.load_study(study_name="local-test", storage=open_storage(journal))
    except KeyError:
        return None


def states(journal: str) -> list[TrialState]:
    study = load(journal)
    return [] if study is None else [t.state for t in study.get_trials(deepcopy=False)]


def test_resume_after_max_runtime_of_wall_clock_relaunches_the_interrupted_trial(
    write_manifest: ManifestWriter, tmp_path: Path
) -> None:
    path = write_manifest(
        mode="slow", max_trials=100, parallel=1, limits={"maxRuntime": f"{MAX_RUNTIME:g}s"}
    )
    journal = str(tmp_path / "kubetune-runs" / "local-test" / "study.journal")
    env = {**os.environ, "TRIAL_SECONDS": "1.0"}
    process = subprocess.Popen(
        [*KUBETUNE, "run", str(path)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # A couple of seconds in: one trial done, the next one running.
    deadline = time.monotonic() + 60
    while states(journal)[:2] != [TrialState.COMPLETE, TrialState.RUNNING]:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no second trial started: {states(journal)}"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, (out, err)

    study = load(journal)
    assert study is not None
    interrupted = {t.number: t.params for t in study.trials if t.state is TrialState.RUNNING}
    assert list(interrupted) == [1]
    ran = study.user_attrs[ATTR_RUN_SECONDS]
    assert 0 < ran < MAX_RUNTIME

    # Resume only once maxRuntime has passed since the study was created (wall-clock).
    wall_clock_end = study.user_attrs[ATTR_STARTED_AT] + MAX_RUNTIME
    deadline = time.monotonic() + 60
    while time.time() <= wall_clock_end + 0.5:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    result = subprocess.run(
        [*KUBETUNE, "run", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "MaxRuntimeReached" in result.stdout
    study = load(journal)
    assert study is not None
    trials = study.trials
    # The interrupted trial ran again with its parameters and finished; the run went on after it.
    assert trials[1].state is TrialState.COMPLETE, trials[1]
    assert trials[1].params == interrupted[1]
    assert len(trials) >= 3
    total = study.user_attrs[ATTR_RUN_SECONDS]
    assert MAX_RUNTIME <= total < MAX_RUNTIME + 5
