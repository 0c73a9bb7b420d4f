"""checkov, the infrastructure-as-code scanner the chart tests run, in a virtualenv of its own.

checkov pins old versions of packages the project's own environment needs newer (packaging,
networkx...), so it cannot join the test extra. Instead it gets ``<repo>/.cache/checkov/``
(gitignored), created with pip from PyPI once per machine under a file lock (xdist workers
may ask at once); about two and a half minutes the first time.

CLI: ``python -m tests.checkov_tool`` prints the checkov executable's path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from tests.tools import REPO_ROOT, _exclusive_lock

VENV = REPO_ROOT / ".cache" / "checkov"
REQUIREMENT = "checkov>=3.2,<4"


def ensure_checkov(venv_dir: Path = VENV) -> Path:
    """The path of a working ``checkov`` executable, installing it once if needed."""
    executable = venv_dir / "bin" / "checkov"
    marker = venv_dir / ".installed"
    if marker.is_file() and executable.is_file():
        return executable
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(venv_dir.parent / ".checkov.lock"):
        if marker.is_file() and executable.is_file():
            return executable
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
        subprocess.run(
            [str(venv_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", REQUIREMENT],
            check=True,
            env=env,
            timeout=1200,
        )
        marker.write_text(REQUIREMENT + "\n")
    return executable


def main() -> int:
    sys.stdout.write(f"{ensure_checkov()}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
