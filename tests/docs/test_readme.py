"""The README stays a front door: small, and its set-up commands name what exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"


def test_readme_is_at_most_10_kb() -> None:
    size = len(README.read_bytes())
    assert size <= 10 * 1024, f"README.md is {size} bytes: move reference material to docs/"


def test_setup_commands_name_real_extras_and_files() -> None:
    (setup,) = re.findall(r"^## Set up\n.*?```bash\n(.*?)```", README.read_text(), re.DOTALL | re.M)
    install, tests = setup.strip().splitlines()
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    (wanted,) = re.findall(r"-e '\.\[([a-z,]+)\]'", install)
    assert set(wanted.split(",")) <= extras.keys()
    (manifest,) = re.findall(r"kubetune run (\S+)$", install)
    assert (REPO_ROOT / manifest).is_file()
    assert tests == "bash tests/run.sh"
    assert (REPO_ROOT / "tests" / "run.sh").is_file()


def test_prerequisites_are_stated() -> None:
    text = " ".join(README.read_text().split())
    assert "Python >= 3.11" in text
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert requires["requires-python"] == ">=3.11"
    assert "Debian or Ubuntu and root" in text
