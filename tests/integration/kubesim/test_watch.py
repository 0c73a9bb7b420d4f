"""Watch semantics through the official Python client (and raw HTTP where needed)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.kubesim.harness import KubeSim, wait_until


def _collect(
    func: Callable[..., Any], *args: Any, count: int, timeout: int = 5, **kwargs: Any
) -> list[tuple[str, str, str]]:
    """(type, name, resourceVersion) of the first ``count`` events, within ``timeout``."""
    w = watch.Watch()
    seen = []
    for event in w.stream(func, *args, timeout_seconds=timeout, **kwargs):
        meta = event["raw_object"]["metadata"]
        seen.append((event["type"], meta.get("name", ""), meta["resourceVersion"]))
        if len(seen) >= count:
            w.stop()
    return seen


def _in_background(action: Callable[[], None], delay: float = 0.3) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)  # give the watch time to be established
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_resume_from_resource_version_replays_history(core: client.CoreV1Api, ns: str) -> None:
    start_rv = core.list_namespaced_config_map(ns).metadata.resource_version
    created = core.create_namespaced_config_map(ns, {"metadata": {"name": "w"}})
    modified = core.patch_namespaced_config_map("w", ns, {"data": {"a": "b"}})
    core.delete_namespaced_config_map("w", ns)
    events = _collect(core.list_namespaced_config_map, ns, count=3, resource_version=start_rv)
    assert [e[0] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[0][2] == created.metadata.resource_version
    assert events[1][2] == modified.metadata.resource_version
    assert int(events[2][2]) > int(modified.metadata.resource_version)


def test_watch_without_rv_starts_with_synthetic_added_then_live(
    core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "old"}})
    thread = _in_background(
        lambda: core.create_namespaced_config_map(ns, {"metadata": {"name": "new"}})
    )
    events = _collect(core.list_namespaced_config_map, ns, count=2)
    thread.join()
    assert [(t, n) for t, n, _ in events] == [("ADDED", "old"), ("ADDED", "new")]


def test_all_namespaces_watch(core: client.CoreV1Api, ns: str) -> None:
    thread = _in_background(
        lambda: core.create_namespaced_config_map(
            ns, {"metadata": {"name": "x", "labels": {"probe": ns}}}
        )
    )
    events = _collect(
        core.list_config_map_for_all_namespaces,
        count=1,
        label_selector=f"probe={ns}",
        resource_version="1",
    )
    thread.join()
    assert events[0][:2] == ("ADDED", "x")


def test_all_namespaces_watch_with_namespace_field_selector(
    core: client.CoreV1Api, ns: str, sim: KubeSim
) -> None:
    other = f"{ns}-other"
    core.create_namespace({"metadata": {"name": other}})
    for namespace in (other, ns):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "before"}})
    events: list[tuple[str, str, str]] = []

    def consume() -> None:
        w = watch.Watch()
        for event in w.stream(
            core.list_config_map_for_all_namespaces,
            field_selector=f"metadata.namespace={ns}",
            timeout_seconds=10,
        ):
            meta = event["raw_object"]["metadata"]
            events.append((event["type"], meta["namespace"], meta["name"]))
            if meta["name"] == "last":
                w.stop()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    wait_until(
        lambda: any(w["resource"] == "configmaps" and w["namespace"] == "" for w in sim.watches()),
        message="all-namespaces configmap watch registered",
    )
    # Live events from both namespaces; the watch must pass on only those of ``ns``.
    core.create_namespaced_config_map(other, {"metadata": {"name": "after"}})
    core.patch_namespaced_config_map("before", other, {"data": {"k": "v"}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "after"}})
    core.delete_namespaced_config_map("before", other)
    core.delete_namespaced_config_map("before", ns)
    core.create_namespaced_config_map(other, {"metadata": {"name": "last"}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "last"}})
    thread.join(timeout=15)
    assert not thread.is_alive()
    assert events == [
        ("ADDED", ns, "before"),
        ("ADDED", ns, "after"),
        ("DELETED", ns, "before"),
        ("ADDED", ns, "last"),
    ]
    listed = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={ns}")
    assert sorted(c.metadata.name for c in listed.items) == ["after", "last"]


def test_selector_watch_sees_objects_enter_and_leave(core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "s", "labels": {"app": "a"}}})
    core.patch_namespaced_config_map("s", ns, {"metadata": {"labels": {"app": "b"}}})
    core.patch_namespaced_config_map("s", ns, {"metadata": {"labels": {"app": "a"}}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "other"}})
    events = _collect(
        core.list_namespaced_config_map,
        ns,
        count=3,
        resource_version=rv,
        label_selector="app=a",
        timeout=2,
    )
    assert [(t, n) for t, n, _ in events] == [("ADDED", "s"), ("DELETED", "s"), ("ADDED", "s")]


def test_pod_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_pod(ns).metadata.resource_version
    for name in ("p1", "p2"):
        core.create_namespaced_pod(
            ns,
            {
                "metadata": {"name": name},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        )
    # Like a real apiserver, binding answers a Status, which the typed client cannot parse
    # as a V1Binding (a long-standing client bug), hence _preload_content=False.
    core.create_namespaced_binding(
        ns,
        {"metadata": {"name": "p2"}, "target": {"kind": "Node", "name": "n1"}},
        _preload_content=False,
    )
    core.patch_namespaced_pod_status("p2", ns, {"status": {"phase": "Running"}})
    unscheduled = core.list_namespaced_pod(ns, field_selector="spec.nodeName=").items
    assert [p.metadata.name for p in unscheduled] == ["p1"]
    on_node = core.list_namespaced_pod(ns, field_selector="spec.nodeName=n1").items
    assert [p.metadata.name for p in on_node] == ["p2"]
    running = core.list_namespaced_pod(ns, field_selector="status.phase=Running").items
    assert [p.metadata.name for p in running] == ["p2"]
    events = _collect(
        core.list_namespaced_pod,
        ns,
        count=1,
        resource_version=rv,
        timeout=2,
        field_selector="status.phase=Running",
    )
    assert events[0][:2] == ("ADDED", "p2")  # entered the selection when it started running


def test_too_old_resource_version_is_410(core: client.CoreV1Api, ns: str, sim: KubeSim) -> None:
    rv = core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}}).metadata
    core.patch_namespaced_config_map("a", ns, {"data": {"x": "y"}})
    sim.compact()
    with pytest.raises(ApiException) as exc:
        _collect(core.list_namespaced_config_map, ns, count=1, resource_version=rv.resource_version)
    assert exc.value.status == 410
    assert "Expired" in exc.value.reason


def _raw_watch(sim: KubeSim, path: str) -> Iterator[dict[str, Any]]:
    with urllib.request.urlopen(sim.url + path, timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Transfer-Encoding"] == "chunked"
        for line in response:
            yield json.loads(line)


def test_bookmarks_and_timeout(core: client.CoreV1Api, ns: str, sim: KubeSim) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    started = time.monotonic()
    events = list(
        _raw_watch(
            sim,
            f"/api/v1/namespaces/{ns}/configmaps?watch=1&"
            f"resourceVersion={rv}&allowWatchBookmarks=true&"
            "timeoutSeconds=2",
        )
    )
    elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 5
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks
    assert bookmarks[0]["object"]["kind"] == "ConfigMap"
    assert int(bookmarks[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)


def test_dropping_watches_ends_the_stream(core: client.CoreV1Api, ns: str, sim: KubeSim) -> None:
    result: dict[str, Any] = {}

    def consume() -> None:
        started = time.monotonic()
        result["events"] = list(
            _raw_watch(sim, f"/api/v1/namespaces/{ns}/secrets?watch=true&timeoutSeconds=30")
        )
        result["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    wait_until(
        lambda: any(w["resource"] == "secrets" and w["namespace"] == ns for w in sim.watches()),
        message="watch registered",
    )
    assert sim.drop_watches(resource="secrets", namespace=ns) == 1
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert result["elapsed"] < 10


def test_send_initial_events_ends_with_marked_bookmark(
    core: client.CoreV1Api, ns: str, sim: KubeSim
) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "one"}})
    events = []
    for event in _raw_watch(
        sim,
        f"/api/v1/namespaces/{ns}/configmaps?watch=1&"
        "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&"
        "allowWatchBookmarks=true&timeoutSeconds=5",
    ):
        events.append(event)
        if event["type"] == "BOOKMARK":
            break
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    annotations = events[1]["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}
