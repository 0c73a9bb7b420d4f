"""`kubetune report --html` on a real local run, checked in Debian's headless Chromium: the page
renders with no network, every plot has data, no console error, and the screenshot shows it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from kubetune.api import parse_tuningjob
from kubetune.report.html import render_html
from kubetune.report.source import StudyReport, records
from PIL import Image

from tests.chromium import chromium_page

from .support import assert_every_plot_has_data, drawn_plots, manifest

REPO_ROOT = Path(__file__).resolve().parents[3]
PLOTS = {
    "history-0",
    "parallel-0",
    "importance-0",
    "slice-0",
    "intermediate-values",
}


def kubetune(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"kubetune {args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished local run whose slow learning curves get some trials pruned."""
    work = tmp_path_factory.mktemp("run")
    document = manifest(
        "curves",
        "mismatch",
        max_trials=10,
        epochs=4,
        epoch_seconds=0.15,
        spec={"earlyStopping": {"algorithm": "median", "startStep": 1, "minTrials": 2}},
    )
    # Widen degree so trials differ enough for the median rule to stop some.
    document["spec"]["parameters"][0] = {"name": "degree", "type": "int", "min": 1, "max": 7}
    (work / "job.yaml").write_text(yaml.safe_dump(document))
    kubetune("run", "job.yaml", cwd=work)  # into work/kubetune-runs/curves
    return work


def test_report_finds_the_run_beside_the_manifest_from_any_directory(
    local_run: Path, tmp_path: Path
) -> None:
    shown = kubetune("report", str(local_run / "job.yaml"), cwd=tmp_path).stdout
    assert "Best trial" in shown
    assert str(local_run / "kubetune-runs" / "curves" / "study.journal") in shown.replace("\n", "")


def test_report_of_a_run_directory(local_run: Path, tmp_path: Path) -> None:
    shown = kubetune("report", str(local_run / "kubetune-runs" / "curves"), cwd=tmp_path).stdout
    assert "Trials of curves" in shown


def test_report_of_a_missing_run_says_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(manifest("never-ran", "bias")))
    result = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "report", str(tmp_path / "job.yaml")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "no run of never-ran found" in result.stderr
    assert str(tmp_path / "kubetune-runs" / "never-ran") in result.stderr.replace("\n", "")


def test_html_report_renders_every_plot_in_chromium(local_run: Path, tmp_path: Path) -> None:
    page_file = tmp_path / "report.html"
    kubetune("report", str(local_run / "job.yaml"), "--html", str(page_file), cwd=tmp_path)
    html = page_file.read_text()
    assert "<script src=" not in html, "the page must load nothing from the network"

    with chromium_page() as page:
        page.open(page_file.as_uri())
        plots = drawn_plots(page)
        assert set(plots) == PLOTS, plots.keys()
        assert_every_plot_has_data(plots)
        curves = plots["intermediate-values"]["traces"]
        pruned = [t for t in curves if t["name"].endswith("(pruned)")]
        assert pruned, f"no pruned trial marked among {[t['name'] for t in curves]}"
        assert all(t["symbols"][-1] == "x" for t in pruned)
        assert not page.errors()
        fetched = [u for u in page.requested_urls() if not u.startswith(("file:", "data:"))]
        assert not fetched, f"the page fetched from the network: {fetched}"
        shot = page.screenshot(tmp_path / "report.png", 1200, 900)
        boxes = page.evaluate(
            "Array.from(document.querySelectorAll('[data-plot]')).map(e => {"
            "const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
        )
    assert_plots_visible(shot, boxes)


def assert_plots_visible(shot: Path, boxes: list[list[float]]) -> None:
    """Each plot's area of the screenshot holds a drawing, not a blank box."""
    image = Image.open(shot).convert("RGB")
    assert image.width >= max(right for _, _, right, _ in boxes) - 1, "page cut short"
    assert image.height >= max(bottom for *_, bottom in boxes) - 1, "page cut short"
    for left, top, right, bottom in boxes:
        crop = image.crop((int(left), int(top), int(right), int(bottom)))
        colours = crop.getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 30, f"plot at {top} looks blank"


def job_for_two_objectives() -> Any:
    return parse_tuningjob(manifest("two-objectives", "bias"))


def test_pareto_front_of_a_multi_objective_study(tmp_path: Path) -> None:
    """Several objectives (as issue 13's studies have) add the Pareto front."""
    job = job_for_two_objectives()
    study = optuna.create_study(
        study_name=job.name,
        directions=["minimize", "minimize"],
        sampler=optuna.samplers.RandomSampler(seed=1),
    )

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        degree = trial.suggest_int("degree", 1, 2)
        alpha = trial.suggest_float("alpha", 1e-3, 10.0, log=True)
        return alpha / degree, degree + 1 / alpha

    study.optimize(objective, n_trials=12)
    report = StudyReport(job, study, records(job, study), "memory", objectives=["a", "b"])
    page_file = tmp_path / "pareto.html"
    page_file.write_text(render_html(report))
    with chromium_page() as page:
        page.open(page_file.as_uri())
        plots = drawn_plots(page)
        assert "pareto-front" in plots
        assert {"history-0", "history-1", "slice-1"} <= set(plots)
        assert_every_plot_has_data(plots)
        assert not page.errors()


def test_dashboard_serves_a_local_run(local_run: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "kubetune.cli", "dashboard", "job.yaml", "--port", "0"],
        cwd=local_run,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        found = re.search(r"http://\S+/", line)
        assert found, f"no URL in {line!r}"
        with urllib.request.urlopen(found.group(0) + "api/studies", timeout=10) as response:
            studies = json.load(response)["study_summaries"]
        assert [s["study_name"] for s in studies] == ["curves"]
    finally:
        server.terminate()
        server.wait(timeout=30)
