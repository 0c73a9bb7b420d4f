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
    # What the CRD's CEL rules can say is refused at apply, with the field path...
    bad_scale = tuningjob("bad-scale")
    bad_scale["spec"]["parameters"][0].update({"min": 0.0, "scale": "log"})
    grid_float = tuningjob("grid-float", spec={"strategy": {"algorithm": "grid"}})
    for manifest, message in (
        (bad_scale, 'spec.parameters[0].min: Invalid value: "object": must be > 0 for scale log'),
        (grid_float, "grid search needs a finite space: float parameter x needs a step"),
    ):
        refused = cluster.apply(manifest, check=False)
        assert refused.returncode != 0
        assert message in refused.stderr, refused.stderr
    # ...what only the operator can check (a Python regex, a placeholder naming no parameter)
    # becomes InvalidSpec.
    bad_regex = tuningjob(
        "bad-regex",
        spec={
            "metrics": {
                "format": "regex",
                "definitions": [
                    {"name": "loss", "regex": "loss=(["},
                    {"name": "accuracy", "regex": "accuracy=([0-9.]+)"},
                ],
            }
        },
    )
    bad_placeholder = tuningjob("bad-placeholder", container={"args": ["--y=${params.y}"]})
    for manifest in (bad_regex, bad_placeholder):
        cluster.apply(manifest)
    cluster.apply(tuningjob("still-served", max_trials=2))

    expected = {
        "bad-regex": "spec.metrics.definitions[0].regex: not a valid regular expression",
        "bad-placeholder": "${params.y} names no parameter",
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


def true_states(cluster: Cluster, name: str) -> list[str]:
    """Which of Running / Complete / Failed are True (the contract: exactly one)."""
    status = cluster.tuningjob(name).get("status") or {}
    return [
        c["type"]
        for c in status.get("conditions") or []
        if c["type"] in ("Running", "Complete", "Failed") and c["status"] == "True"
    ]


def patch(cluster: Cluster, name: str, kind: str, body: str) -> None:
    cluster.kubectl("patch", "tuningjob", name, f"--type={kind}", "-p", body)


def wait_spec_accepted(cluster: Cluster, name: str, status: str, generation: int) -> dict[str, Any]:
    return eventually(
        lambda: (
            (c := cluster.any_condition(name, "SpecAccepted"))
            and c["status"] == status
            and c.get("observedGeneration") == generation
            and c
        ),
        timeout=30,
        message=f"SpecAccepted={status} for generation {generation} of {name}",
    )


def test_limits_edits_take_effect_and_search_space_edits_are_refused(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    cluster.apply(tuningjob("editable", max_trials=2, parallel=1))
    cluster.wait_condition("editable", "Complete")

    patch(
        cluster, "editable", "merge", '{"spec": {"limits": {"maxTrials": 4, "parallelTrials": 2}}}'
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
    assert wait_spec_accepted(cluster, "editable", "True", 2)["reason"] == "Accepted"

    # A search-space edit is refused by the CRD's transition rule at apply: nothing changes.
    # (Against a CRD without the rule the operator refuses it: SearchSpaceChanged, unit-tested.)
    edit = '[{"op": "replace", "path": "/spec/parameters/0/max", "value": 2.0}]'
    refused = cluster.kubectl("patch", "tj", "editable", "--type=json", "-p", edit, check=False)
    assert refused.returncode != 0
    assert "spec.parameters: Forbidden: cannot be changed" in refused.stderr
    obj = cluster.tuningjob("editable")
    assert obj["metadata"]["generation"] == 2
    assert obj["status"]["trials"]["total"] == 4
    assert true_states(cluster, "editable") == ["Complete"]
    assert cluster.any_condition("editable", "Failed") is None


def test_invalid_edit_of_a_running_tuningjob_is_refused_and_the_study_goes_on(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    slow = {"env": [{"name": "TRIAL_SECONDS", "value": "1.5"}]}
    cluster.apply(tuningjob("bad-edit", mode="slow", max_trials=3, parallel=1, container=slow))
    eventually(lambda: cluster.jobs("bad-edit"), message="a first trial Job")
    # the status follows the Job it reports on (the operator writes it after creating Jobs)
    eventually(lambda: cluster.condition("bad-edit", "Running"), timeout=30, message="Running=True")

    # An edit of spec.parameters is refused by the CRD (a transition rule) at once.
    edit = '[{"op": "replace", "path": "/spec/parameters/0/max", "value": 0.5}]'
    edited = cluster.kubectl("patch", "tj", "bad-edit", "--type=json", "-p", edit, check=False)
    assert "spec.parameters: Forbidden: cannot be changed" in edited.stderr
    assert "clone the TuningJob instead" in edited.stderr
    # A regex Python cannot compile: the CRD admits it, the operator's validation does not.
    patch(
        cluster,
        "bad-edit",
        "merge",
        '{"spec": {"metrics": {"format": "regex", '
        '"definitions": [{"name": "loss", "regex": "loss=(["}, '
        '{"name": "accuracy", "regex": "accuracy=([0-9.]+)"}]}}}',
    )
    refused = wait_spec_accepted(cluster, "bad-edit", "False", 2)
    assert refused["reason"] == "InvalidSpec"
    assert "spec.metrics.definitions[0].regex" in refused["message"]
    assert true_states(cluster, "bad-edit") in (["Running"], ["Complete"])
    assert cluster.any_condition("bad-edit", "Failed") is None
    # The Warning Event is posted after the status is written, and Events are best-effort: a
    # kill in between loses it, and the next operator does not post again a refusal the status
    # already reports. So it is looked for before the kill below, not after.
    eventually(
        lambda: any(e.reason == "InvalidSpec" for e in cluster.events("bad-edit")),
        message="an InvalidSpec Warning event",
    )

    # The operator dies while the edit stands: the one that replaces it goes on with the spec
    # accepted before (stored in the study), not waiting for the edit to be reverted.
    launched_before_restart = len(cluster.jobs("bad-edit"))
    operator.kill()
    operator.start()

    # Trials that were running are recorded and the rest run with the accepted spec.
    done = cluster.wait_condition("bad-edit", "Complete", timeout=60)
    assert done["reason"] == "MaxTrialsReached"
    assert launched_before_restart < 3  # so some trials were launched after the restart
    status = cluster.tuningjob("bad-edit")["status"]
    assert status["trials"]["succeeded"] == 3
    names = sorted(j["metadata"]["name"] for j in cluster.jobs("bad-edit"))
    assert names == [f"bad-edit-{n}" for n in range(3)]
    assert true_states(cluster, "bad-edit") == ["Complete"]
    assert cluster.any_condition("bad-edit", "Stalled") is None
    accepted = cluster.any_condition("bad-edit", "SpecAccepted")
    assert accepted is not None
    assert (accepted["status"], accepted["reason"]) == ("False", "InvalidSpec")
    assert "the study goes on with the spec of generation 1" in accepted["message"]


def active_trial_jobs(cluster: Cluster, name: str) -> int:
    """Trial Jobs the Job controller counts active pods for, right now."""
    return sum(1 for j in cluster.jobs(name) if (j.get("status") or {}).get("active", 0) >= 1)


def test_raising_parallel_trials_of_a_running_tuningjob_runs_trials_at_once(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    slow = {"env": [{"name": "TRIAL_SECONDS", "value": "2"}]}
    cluster.apply(tuningjob("widened", mode="slow", max_trials=3, parallel=1, container=slow))
    eventually(lambda: active_trial_jobs(cluster, "widened") == 1, message="a first active trial")
    # the status follows the Job it reports on (the operator writes it after creating Jobs)
    eventually(lambda: cluster.condition("widened", "Running"), timeout=30, message="Running=True")
    assert active_trial_jobs(cluster, "widened") <= 1

    patch(
        cluster, "widened", "merge", '{"spec": {"limits": {"maxTrials": 8, "parallelTrials": 3}}}'
    )
    most = eventually(
        lambda: (n := active_trial_jobs(cluster, "widened")) >= 2 and n,
        timeout=60,
        message="at least two trial Jobs active at once",
    )
    assert most <= 3

    done = cluster.wait_condition("widened", "Complete", timeout=120)
    assert done["reason"] == "MaxTrialsReached"
    status = cluster.tuningjob("widened")["status"]
    assert status["observedGeneration"] == 2
    assert status["trials"]["total"] == 8
    assert status["trials"]["succeeded"] == 8
    names = sorted(j["metadata"]["name"] for j in cluster.jobs("widened"))
    assert names == sorted(f"widened-{n}" for n in range(8))


def test_operator_probes(operator: OperatorProcess) -> None:
    import urllib.request

    # An operator restarted by an earlier test answers "standby" until it holds the Lease, then
    # 503 until kopf's caches are warm: both are right during a takeover, so wait for it to lead.
    wait_until(operator.leading, timeout=30, message=f"operator leading\n{operator.log_tail()}")
    for path in ("/healthz", "/readyz"):
        with urllib.request.urlopen(f"http://127.0.0.1:{operator.port}{path}", timeout=5) as r:
            assert r.status == 200
