"""Restarts, bad input, edits and deletion: the operator loses nothing and leaves nothing."""

from __future__ import annotations

from typing import Any

from tests.kubesim.harness import wait_until

from .harness import Cluster, OperatorProcess, eventually, tuningjob


def test_sigkilled_operator_loses_no_trial_and_launches_none_twice(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    slow = {"env": [{"name": "TRIAL_SECONDS", "value": "0.6"}]}
    manifest = tuningjob("restarts", mode="slow", max_trials=12, parallel=3, container=slow)
    cluster.sim.clear_requests()
    cluster.apply(manifest)

    for kills in range(4):
        target = 2 + 3 * kills  # kill at different points of the study
        eventually(
            lambda t=target: len(cluster.jobs("restarts")) >= t,
            message=f"{target} trial Jobs before kill {kills}",
        )
        operator.kill()
        operator.start()

    done = cluster.wait_condition("restarts", "Complete", timeout=180)
    assert done["reason"] == "MaxTrialsReached"
    status = cluster.tuningjob("restarts")["status"]
    assert status["trials"]["total"] == 12
    assert status["trials"]["succeeded"] == 12
    names = sorted(j["metadata"]["name"] for j in cluster.jobs("restarts"))
    assert names == sorted(f"restarts-{n}" for n in range(12))
    # Each Job was created exactly once (a re-launch after a restart meets AlreadyExists).
    created = [
        r
        for r in cluster.sim.requests(verb="create", resource="jobs", namespace="default")
        if r["code"] == 201 and r["userAgent"].startswith("kubetune")
    ]
    assert len(created) == 12
    assert operator.starts >= 5


def test_invalid_tuningjobs_get_invalid_spec_and_others_still_run(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    bad_scale = tuningjob("bad-scale")
    bad_scale["spec"]["parameters"][0].update({"min": 0.0, "scale": "log"})
    grid_float = tuningjob("grid-float", spec={"strategy": {"algorithm": "grid"}})
    bad_regex = tuningjob(
        "bad-regex",
        spec={
            "metrics": {"format": "regex", "definitions": [{"name": "loss", "regex": "loss=(["}]}
        },
    )
    for manifest in (bad_scale, grid_float, bad_regex):
        cluster.apply(manifest)
    cluster.apply(tuningjob("still-served", max_trials=2))

    expected = {
        "bad-scale": "spec.parameters[0].min: must be > 0 for scale log",
        "grid-float": "grid search needs a finite space",
        "bad-regex": "spec.metrics.definitions[0].regex: not a valid regular expression",
    }
    for name, message in expected.items():
        failed = cluster.wait_condition(name, "Failed", timeout=30)
        assert failed["reason"] == "InvalidSpec"
        assert message in failed["message"], failed["message"]
        assert not cluster.jobs(name)
        eventually(
            lambda n=name: any(e.reason == "InvalidSpec" for e in cluster.events(n)),
            message=f"an InvalidSpec event for {name}",
        )
    cluster.wait_condition("still-served", "Complete")


def test_unknown_strategy_is_rejected_at_admission(cluster: Cluster) -> None:
    manifest = tuningjob("unknown-strategy", spec={"strategy": {"algorithm": "annealing"}})
    result = cluster.apply(manifest, check=False)

    assert result.returncode != 0
    assert "spec.strategy.algorithm" in result.stderr
    assert "annealing" in result.stderr


def test_deleting_a_running_tuningjob_leaves_nothing_behind(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    cluster.apply(tuningjob("doomed", mode="hang", max_trials=4, parallel=2))
    eventually(
        lambda: (
            sum(
                1
                for p in cluster.core.list_namespaced_pod(
                    "default", label_selector="kubetune.io/tuningjob=doomed"
                ).items
                if p.status.phase == "Running"
            )
            == 2
        ),
        message="two running trial pods",
    )
    cluster.kubectl("delete", "tuningjob", "doomed", "--wait=true", "--timeout=60s")

    def nothing_left() -> bool:
        selector = "kubetune.io/tuningjob=doomed"
        pods = cluster.core.list_namespaced_pod("default", label_selector=selector).items
        maps = cluster.core.list_namespaced_config_map("default", label_selector=selector).items
        return not cluster.jobs("doomed") and not pods and not maps

    wait_until(nothing_left, timeout=60, message="no Jobs, pods or study ConfigMaps left")


def test_limits_edits_take_effect_and_search_space_edits_are_refused(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    cluster.apply(tuningjob("editable", max_trials=2, parallel=1))
    cluster.wait_condition("editable", "Complete")

    cluster.kubectl(
        "patch",
        "tuningjob",
        "editable",
        "--type=merge",
        "-p",
        '{"spec": {"limits": {"maxTrials": 4, "parallelTrials": 2}}}',
    )
    eventually(
        lambda: (
            cluster.tuningjob("editable")["status"]["trials"]["total"] == 4
            and cluster.condition("editable", "Complete") is not None
        ),
        message="the extended study completes 4 trials",
    )
    status: dict[str, Any] = cluster.tuningjob("editable")["status"]
    assert status["observedGeneration"] == 2

    cluster.kubectl(
        "patch",
        "tuningjob",
        "editable",
        "--type=json",
        "-p",
        '[{"op": "replace", "path": "/spec/parameters/0/max", "value": 2.0}]',
    )
    refused = cluster.wait_condition("editable", "Failed", timeout=30)
    assert refused["reason"] == "SearchSpaceChanged"
    assert "spec.parameters cannot change" in refused["message"]
    assert cluster.tuningjob("editable")["status"]["trials"]["total"] == 4


def test_operator_probes(operator: OperatorProcess) -> None:
    import urllib.request

    for path in ("/healthz", "/readyz"):
        with urllib.request.urlopen(f"http://127.0.0.1:{operator.port}{path}", timeout=5) as r:
            assert r.status == 200
