"""`kubetune run` of a constrained TuningJob: the sampler moves to the feasible region, the best
trial is feasible, and the final table and `kubetune report` mark the infeasible trials."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from optuna.trial import TrialState

from .conftest import manifest
from .runs import journal_of, kubetune, load_study

# trial.py reports loss = (x - 0.3)^2 and x_seen = x: the unconstrained best (x = 0.3) breaks
# the bound, the feasible best is x = 0.5.
CONSTRAINT = {"metric": "x_seen", "min": 0.5}


def test_run_of_a_constrained_job(tmp_path: Path) -> None:
    document = manifest("bounded", max_trials=12, parallel=1, algorithm="bayesian")
    document["spec"]["strategy"]["settings"] = {"nStartupTrials": 5}
    document["spec"]["constraints"] = [CONSTRAINT]
    path = tmp_path / "bounded.yaml"
    path.write_text(yaml.safe_dump(document))

    result = kubetune("run", str(path), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    study = load_study(journal_of(tmp_path, "bounded"), "bounded")
    assert study is not None
    done = sorted(
        (t for t in study.get_trials() if t.state is TrialState.COMPLETE), key=lambda t: t.number
    )
    assert len(done) == 12
    infeasible = [t.number for t in done if t.params["x"] < 0.5]
    stored = [t.system_attrs["constraints"][0] for t in done]
    assert stored == pytest.approx([0.5 - t.params["x"] for t in done], abs=1e-9)
    # The Gaussian process models the constraint: its suggestions keep to the feasible side.
    modelled = [t.params["x"] for t in done[5:]]
    assert sum(x >= 0.45 for x in modelled) >= 5, modelled
    best = min((t for t in done if t.number not in infeasible), key=lambda t: t.value or 0.0)
    assert re.findall(r"^│ +\*(\d+) ", out, re.MULTILINE) == [str(best.number)]
    rows = re.findall(r"^│ +\*?(\d+) │ (\w+)", out, re.MULTILINE)
    assert sorted(int(n) for n, state in rows if state == "Infeasible") == infeasible, out
    assert f"(12 succeeded ({len(infeasible)} infeasible)," in " ".join(out.split())

    report = kubetune("report", str(path), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    flat = " ".join(report.stdout.split())
    assert "Infeasible: succeeded outside spec.constraints" in flat
    assert f"12 trials (12 succeeded ({len(infeasible)} infeasible), 0 failed" in flat
