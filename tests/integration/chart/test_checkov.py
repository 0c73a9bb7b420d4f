"""checkov over the rendered chart (default values and watchNamespaces): no failed check, and
every check the chart skips says why (a ``checkov.io/skipN: CHECK=reason`` annotation)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.checkov_tool import ensure_checkov

from .support import render

MODES = {
    "defaults": {},
    "watchNamespaces": {"watchNamespaces": ["team-a", "team-b"]},
    "pinned": {"image.digest": "sha256:" + "0" * 64, "prometheus.url": "http://prom:9090"},
}


def scan(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [str(ensure_checkov()), "--framework", "kubernetes", "--skip-download",
         "--output", "json", "-f", str(path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    (kubernetes,) = [r for r in reports if r.get("check_type") == "kubernetes"]
    results: dict[str, Any] = kubernetes["results"]
    return dict(results, passed=kubernetes["summary"]["passed"])


@pytest.mark.parametrize("mode", MODES)
def test_checkov_passes_the_rendered_chart(helm: Path, tmp_path: Path, mode: str) -> None:
    path = tmp_path / "chart.yaml"
    path.write_text(yaml.safe_dump_all(render(helm, MODES[mode])))
    results = scan(path)
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in results["failed_checks"]]
    assert not failed, f"fix these or skip them in the chart with a reason: {failed}"
    assert results["passed"] > 100
    for skipped in results["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment") or ""
        assert len(reason.split()) >= 5, f"{skipped['check_id']}: give a reason, not {reason!r}"
    pinned = mode == "pinned"
    skipped_ids = {c["check_id"] for c in results["skipped_checks"]}
    assert ("CKV_K8S_43" in skipped_ids) != pinned  # the digest check is skipped only unpinned
