"""kubesim restarted from its state directory keeps what etcd keeps: every object of every kind
with its uid and resourceVersion, the resourceVersion sequence, served CRDs, RBAC, admission
policies and ServiceAccount tokens; it drops its connections and watch history, as a restarted
kube-apiserver does."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.kubesim.harness import KubeSim, wait_until

from .conftest import CRD_GROUP, widget_crd

NS = "keep"


class Http:
    """JSON over plain HTTP, optionally with a bearer token."""

    def __init__(self, sim: KubeSim, token: str | None = None) -> None:
        self.sim = sim
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.sim.url + path, data=data, method=method, headers=self.headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        status, answer = self(method, path, body)
        assert status in (200, 201), (method, path, status, answer)
        return dict(answer)


def _policy() -> list[tuple[str, dict[str, Any]]]:
    """A ValidatingAdmissionPolicy (and binding) refusing ConfigMaps labelled forbidden."""
    base = "/apis/admissionregistration.k8s.io/v1"
    policy = {
        "metadata": {"name": "no-forbidden"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                "resources": ["configmaps"],
            }]},
            "validations": [{
                "expression": "!has(object.metadata.labels) || "
                              "!('forbidden' in object.metadata.labels)",
                "message": "forbidden ConfigMap",
            }],
        },
    }  # fmt: skip
    binding = {
        "metadata": {"name": "no-forbidden"},
        "spec": {"policyName": "no-forbidden", "validationActions": ["Deny"]},
    }
    return [
        (f"{base}/validatingadmissionpolicies", policy),
        (f"{base}/validatingadmissionpolicybindings", binding),
    ]


def _populate(http: Http) -> dict[str, dict[str, Any]]:
    """One object of each kind the emulator serves that a restart must keep; path -> object."""
    http.ok("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
    crd = http.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widget_crd())
    wait_until(
        lambda: http("GET", f"/apis/{CRD_GROUP}/v1/namespaces/{NS}/widgets")[0] == 200,
        message="the CRD served",
    )
    core, rbac = f"/api/v1/namespaces/{NS}", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}"
    creates: list[tuple[str, dict[str, Any]]] = [
        (f"{core}/configmaps", {"metadata": {"name": "cm"}, "data": {"k": "v"}}),
        (f"{core}/secrets", {"metadata": {"name": "s"}, "stringData": {"p": "w"}}),
        (f"{core}/serviceaccounts", {"metadata": {"name": "robot"}}),
        (f"{core}/events", {
            "metadata": {"name": "ev"}, "reason": "Tested", "message": "kept",
            "involvedObject": {"kind": "ConfigMap", "name": "cm", "namespace": NS},
        }),
        (f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases", {
            "metadata": {"name": "leader"},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15},
        }),
        (f"/apis/batch/v1/namespaces/{NS}/jobs", {
            "metadata": {"name": "job"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": "busybox", "command": ["true"]}]}}},
        }),
        (f"{rbac}/roles", {
            "metadata": {"name": "read-cm"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        }),
        (f"{rbac}/rolebindings", {
            "metadata": {"name": "robot-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                        "name": "read-cm"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": NS}],
        }),
        (f"/apis/{CRD_GROUP}/v1/namespaces/{NS}/widgets", {
            "apiVersion": f"{CRD_GROUP}/v1", "kind": "Widget",
            "metadata": {"name": "w"}, "spec": {"size": 3},
        }),
        *_policy(),
    ]  # fmt: skip
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + crd["metadata"]["name"]
    kept: dict[str, dict[str, Any]] = {crd_path: crd}
    for path, body in creates:
        created = http.ok("POST", path, body)
        kept[f"{path}/{created['metadata']['name']}"] = created
    return {path: http.ok("GET", path) for path in kept}


def _token(http: Http) -> str:
    answer = http.ok("POST", f"/api/v1/namespaces/{NS}/serviceaccounts/robot/token", {"spec": {}})
    return str(answer["status"]["token"])


@pytest.mark.parametrize("how", ["crash", "api-restart"])
def test_every_kind_survives_a_restart(tmp_path: Path, how: str) -> None:
    with KubeSim(controllers=False, work_dir=tmp_path) as sim:
        http = Http(sim)
        before = _populate(http)
        token = _token(http)
        last_rv = int(sim.state()["resourceVersion"])
        if how == "crash":
            sim.kill()  # SIGKILL right after the last acknowledged write
            sim.start()
        else:
            sim.restart_api()
        assert sim.state()["resourceVersion"] == str(last_rv)

        for path, obj in before.items():
            assert http.ok("GET", path) == obj, path  # same uid, resourceVersion, content
        created = http.ok(
            "POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "n"}}
        )
        assert int(created["metadata"]["resourceVersion"]) == last_rv + 1

        # The CRD is served again: discovery, list, create with its schema's defaulting.
        group = http.ok("GET", f"/apis/{CRD_GROUP}/v1")
        assert "widgets" in [r["name"] for r in group["resources"]]
        widget = {"metadata": {"name": "w2"}, "spec": {"size": 4}}
        assert http.ok("POST", f"/apis/{CRD_GROUP}/v1/namespaces/{NS}/widgets", widget)

        # RBAC and the token: the robot may read ConfigMaps and nothing else.
        robot = Http(sim, token)
        assert robot("GET", f"/api/v1/namespaces/{NS}/configmaps/cm")[0] == 200
        assert robot("GET", f"/api/v1/namespaces/{NS}/secrets/s")[0] == 403
        assert Http(sim, token + "x")("GET", "/api/v1/namespaces")[0] == 401

        # The admission policy still refuses.
        forbidden = {"metadata": {"name": "bad", "labels": {"forbidden": "yes"}}}
        status, answer = http("POST", f"/api/v1/namespaces/{NS}/configmaps", forbidden)
        assert status == 422, answer
        assert "forbidden ConfigMap" in answer["message"]


def _watch_lines(sim: KubeSim, path: str, rv: str, seconds: int) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode(
        {"watch": "1", "resourceVersion": rv, "timeoutSeconds": str(seconds)}
    )
    with urllib.request.urlopen(f"{sim.url}{path}?{query}", timeout=seconds + 10) as response:
        return [json.loads(line) for line in response if line.strip()]


def test_watches_are_cut_and_resume_only_from_after_the_restart(tmp_path: Path) -> None:
    with KubeSim(controllers=False, work_dir=tmp_path) as sim:
        http = Http(sim)
        path = "/api/v1/namespaces/default/configmaps"
        old_rv = http.ok("POST", path, {"metadata": {"name": "a"}})["metadata"]["resourceVersion"]
        http.ok("POST", path, {"metadata": {"name": "b"}})

        cut: list[BaseException | int] = []

        def watch() -> None:
            try:
                cut.append(len(_watch_lines(sim, path, old_rv, 60)))
            except Exception as error:  # a reset connection is what a dead process leaves
                cut.append(error)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        wait_until(lambda: sim.state()["watches"] == 1, message="the watch open")
        restart_rv = sim.restart_api(downtime=0.2)
        watcher.join(timeout=10)
        assert cut, "the open watch was not ended by the restart"

        # Before the restart: the watch cache has no history, so 410 Gone (a relist follows).
        gone = _watch_lines(sim, path, old_rv, 1)
        assert gone[0]["type"] == "ERROR"
        assert gone[0]["object"]["code"] == 410
        # From the restart on: events as usual.
        resumed: list[list[dict[str, Any]]] = []
        follower = threading.Thread(
            target=lambda: resumed.append(_watch_lines(sim, path, restart_rv, 3)), daemon=True
        )
        follower.start()
        wait_until(lambda: sim.state()["watches"] == 1, message="the resumed watch open")
        http.ok("POST", path, {"metadata": {"name": "c"}})
        follower.join(timeout=15)
        events = [(e["type"], e["object"]["metadata"]["name"]) for e in resumed[0]]
        assert ("ADDED", "c") in events
        assert all(name == "c" for _, name in events)


def test_a_restart_waits_for_its_port_to_be_free(tmp_path: Path) -> None:
    with KubeSim(controllers=False, work_dir=tmp_path) as sim:
        answer = sim._control("POST", "restart", {"downtime_seconds": 1.0})
        # Another socket takes the port while the API server is down. SO_REUSEADDR lets it bind
        # past the old server's connections left in TIME_WAIT (which would otherwise hold the
        # port from the test, not from the server); listening makes it hold the port against
        # the new server, as a client's connection from that port would.
        squatter = socket.socket()
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 1.0
        while True:
            try:
                squatter.bind(("127.0.0.1", sim.port))
                squatter.listen()
                break
            except OSError:
                assert time.monotonic() < deadline, "the old server never released its port"
                time.sleep(0.01)
        time.sleep(2.0)  # past the downtime: the new server must be retrying now
        squatter.close()
        wait_until(lambda: sim.state()["restarts"] == 1, message="the API server back")
        assert sim.state()["resourceVersion"] == answer["resourceVersion"]
        assert "busy" in sim.log_tail(200)
