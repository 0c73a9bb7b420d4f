"""`kubetune run` as a user runs it: a subprocess, interrupted with Ctrl-C, resumed, and the
study journal it leaves read back."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import optuna
from kubetune.search.storage import open_storage

KUBETUNE = [sys.executable, "-m", "kubetune.cli"]


def kubetune(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KUBETUNE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def journal_of(tmp_path: Path, name: str = "local-test") -> str:
    """Where `kubetune run` run in ``tmp_path`` keeps the study of TuningJob ``name``."""
    return str(tmp_path / "kubetune-runs" / name / "study.journal")


def load_study(journal: str, name: str = "local-test") -> optuna.Study | None:
    """The study in ``journal``, or None before the run has created it."""
    try:
        return optuna.load_study(study_name=name, storage=open_storage(journal))
    except KeyError:
        return None


def interrupt_run(
    manifest: Path,
    *,
    cwd: Path,
    env: Mapping[str, str],
    until: Callable[[], bool],
    waiting_for: Callable[[], str],
) -> tuple[int, str, str]:
    """Start `kubetune run MANIFEST`, press Ctrl-C once ``until()`` holds (checked every 50 ms,
    failing after 60 s with ``waiting_for()``), and return its exit code, stdout and stderr."""
    process = subprocess.Popen(
        [*KUBETUNE, "run", str(manifest)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not until():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, waiting_for()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err
