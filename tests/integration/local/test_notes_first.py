"""`kubetune run` says which template fields it ignores before the first trial starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.integration.report.support import manifest


def test_ignored_fields_are_noted_before_trials_start(tmp_path: Path) -> None:
    document = manifest("noted", "bias", max_trials=2)
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["envFrom"] = [{"secretRef": {"name": "creds"}}]
    container["env"] = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(document))
    result = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "run", "job.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    notes = [i for i, line in enumerate(lines) if line.startswith("note: not available locally")]
    first_trial = next(i for i, line in enumerate(lines) if line.strip().startswith("trial "))
    assert len(notes) == 2, lines  # each once, not repeated after the run
    assert max(notes) < first_trial
    assert "env TOKEN (valueFrom)" in lines[notes[0]] + lines[notes[1]]
