"""Manifests for local-runner tests: one real trial script, tuned over a single parameter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

TRIAL_SCRIPT = Path(__file__).with_name("trial.py")

ManifestWriter = Callable[..., Path]


def manifest(
    name: str,
    mode: str = "ok",
    max_trials: int = 6,
    parallel: int = 2,
    extra_args: tuple[str, ...] = (),
    limits: dict[str, Any] | None = None,
    objective: dict[str, Any] | None = None,
    algorithm: str = "random",
) -> dict[str, Any]:
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "TuningJob",
        "metadata": {"name": name},
        "spec": {
            "objective": {"metric": "loss", "direction": "minimize", **(objective or {})},
            "parameters": [{"name": "x", "type": "float", "min": 0.0, "max": 1.0}],
            "strategy": {"algorithm": algorithm, "seed": 3},
            "limits": {"maxTrials": max_trials, "parallelTrials": parallel, **(limits or {})},
            "trialTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "trial",
                                    "image": "example.com/trial:1",
                                    "command": [
                                        "python",
                                        str(TRIAL_SCRIPT),
                                        f"--mode={mode}",
                                        "--x=${params.x}",
                                        *extra_args,
                                    ],
                                }
                            ]
                        }
                    }
                }
            },
        },
    }


@pytest.fixture
def write_manifest(tmp_path: Path) -> ManifestWriter:
    def write(name: str = "local-test", **options: Any) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(manifest(name, **options)))
        return path

    return write
