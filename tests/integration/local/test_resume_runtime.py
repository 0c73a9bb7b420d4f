"""`kubetune run` interrupted, resumed later: maxRuntime counts the time it ran, not the pause."""

from __future__ import annotations

import os
import time
from pathlib import Path

from kubetune.search.study import ATTR_RUN_SECONDS, ATTR_STARTED_AT
from optuna.trial import TrialState

from .conftest import ManifestWriter
from .runs import interrupt_run, journal_of, kubetune, load_study

MAX_RUNTIME = 6.0


def states(journal: str) -> list[TrialState]:
    study = load_study(journal)
    return [] if study is None else [t.state for t in study.get_trials(deepcopy=False)]


def test_resume_after_max_runtime_of_wall_clock_relaunches_the_interrupted_trial(
    write_manifest: ManifestWriter, tmp_path: Path
) -> None:
    path = write_manifest(
        mode="slow", max_trials=100, parallel=1, limits={"maxRuntime": f"{MAX_RUNTIME:g}s"}
    )
    journal = journal_of(tmp_path)
    env = {**os.environ, "TRIAL_SECONDS": "1.0"}
    # A couple of seconds in: one trial done, the next one running.
    code, out, err = interrupt_run(
        path,
        cwd=tmp_path,
        env=env,
        until=lambda: states(journal)[:2] == [TrialState.COMPLETE, TrialState.RUNNING],
        waiting_for=lambda: f"no second trial started: {states(journal)}",
    )
    assert code == 130, (out, err)

    study = load_study(journal)
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

    result = kubetune("run", str(path), cwd=tmp_path, env=env)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "MaxRuntimeReached" in result.stdout
    study = load_study(journal)
    assert study is not None
    trials = study.trials
    # The interrupted trial ran again with its parameters and finished; the run went on after it.
    assert trials[1].state is TrialState.COMPLETE, trials[1]
    assert trials[1].params == interrupted[1]
    assert len(trials) >= 3
    total = study.user_attrs[ATTR_RUN_SECONDS]
    assert MAX_RUNTIME <= total < MAX_RUNTIME + 5
