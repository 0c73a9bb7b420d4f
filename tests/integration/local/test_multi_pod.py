"""The local runner with multi-pod (Indexed Job) templates and outside SIGKILLs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from kubetune.api import load_tuningjobs
from kubetune.api.status import TrialReason
from kubetune.runtime.oom import OomWitness, memory_events_path, oom_kill_count
from kubetune.runtime.runner import RunPaths, RunReport, run_local
from kubetune.trials import TrialState

RANKS_SCRIPT = Path(__file__).with_name("ranks_trial.py")


def _manifest(name: str, mode: str, job_spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "TuningJob",
        "metadata": {"name": name},
        "spec": {
            "objective": {"metric": "loss", "direction": "minimize"},
            "parameters": [{"name": "x", "type": "float", "min": 0.0, "max": 1.0}],
            "strategy": {"algorithm": "random", "seed": 3},
            "limits": {"maxTrials": 1, "maxFailedTrials": 1},
            "trialTemplate": {
                "spec": {
                    **job_spec,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "train",
                                    "image": "python:3.11",
                                    "command": [
                                        sys.executable,
                                        str(RANKS_SCRIPT),
                                        f"--mode={mode}",
                                        "--x=${params.x}",
                                    ],
                                }
                            ],
                        }
                    },
                }
            },
        },
    }


def _run(tmp_path: Path, mode: str, job_spec: dict[str, Any]) -> RunReport:
    path = tmp_path / "tuningjob.yaml"
    path.write_text(yaml.safe_dump(_manifest("ranks", mode, job_spec)))
    (job,) = load_tuningjobs(path)
    return run_local(job, base_dir=tmp_path, paths=RunPaths.for_job(job, tmp_path / "runs", None))


INDEXED = {"completionMode": "Indexed", "completions": 3, "parallelism": 3}


def test_indexed_template_runs_every_index_and_reads_index_0(tmp_path: Path) -> None:
    report = _run(tmp_path, "ok", INDEXED)
    (trial,) = report.trials
    assert trial.state is TrialState.COMPLETE
    assert trial.objective == 1.0  # index 0's value, though indexes 1 and 2 printed better
    logs = {p.name: p.read_text() for p in report.paths.logs.iterdir()}
    assert logs == {
        "ranks-0.log": "rank=0 loss=1.0\n",
        "ranks-0-1.log": "rank=1 loss=0.6\n",
        "ranks-0-2.log": "rank=2 loss=0.19999999999999996\n",
    }


def test_outside_sigkill_fails_the_trial_as_error_or_oom(tmp_path: Path) -> None:
    report = _run(tmp_path, "sigkill", {})
    (trial,) = report.trials
    assert trial.state is TrialState.FAILED
    # Nothing here makes the OOM killer run, so the counter cannot have gone up.
    assert trial.reason == TrialReason.ERROR
    assert "killed by SIGKILL (not sent by kubetune)" in (trial.message or "")


def test_sigkill_of_one_index_fails_the_multi_pod_trial(tmp_path: Path) -> None:
    report = _run(tmp_path, "sigkill", INDEXED)
    (trial,) = report.trials
    assert trial.state is TrialState.FAILED
    assert trial.reason == TrialReason.ERROR
    assert (trial.message or "").startswith("index 0 killed by SIGKILL")


def test_oom_witness_reads_the_cgroup_counter(tmp_path: Path) -> None:
    cgroup = tmp_path / "cgroup"
    cgroup.write_text("0::/user.slice/session-1.scope\n")
    events = tmp_path / "root" / "user.slice" / "session-1.scope" / "memory.events"
    events.parent.mkdir(parents=True)
    events.write_text("low 0\nhigh 0\nmax 0\noom 0\noom_kill 2\n")
    found = memory_events_path(cgroup, tmp_path / "root")
    assert found == events
    assert oom_kill_count(found) == 2
    witness = OomWitness(found)
    assert not witness.saw_oom_kill()
    events.write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 3\n")
    assert witness.saw_oom_kill()
    assert memory_events_path(tmp_path / "missing") is None
    assert not OomWitness(None).saw_oom_kill()
