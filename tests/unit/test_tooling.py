"""The developer tooling agrees with itself: pre-commit runs what CI runs, the test command
installs no PyTorch, the licence is the one pyproject.toml declares."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_SH = (REPO_ROOT / "tests" / "run.sh").read_text()


def test_pre_commit_hooks_run_the_tools_ci_runs() -> None:
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    tools = {hook["entry"].split()[0] for repo in config["repos"] for hook in repo["hooks"]}
    assert tools == {".venv/bin/ruff", ".venv/bin/mypy", ".venv/bin/lint-imports"}
    for tool in tools:
        assert re.search(rf"(?m)^echo .*; {re.escape(tool)}\b", RUN_SH), tool


def test_the_test_environment_has_no_pytorch() -> None:
    install = [line for line in RUN_SH.splitlines() if "pip install" in line]
    assert install
    assert not [line for line in install if re.search(r"torch|\[[^]]*\bgp\b", line)]
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert "gp" not in extras
    assert not [r for deps in extras.values() for r in deps if r.startswith("torch")]
    # What the test command installed, resolved: nothing pulled PyTorch in.
    assert importlib.util.find_spec("torch") is None


def test_the_licence_is_the_one_pyproject_declares() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    text = (REPO_ROOT / "LICENSE").read_text()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
