"""The store on disk (tests/kubesim/persistence.py), without a server: what is written is what
a new store loads, across log compaction, a crash mid-compaction and a torn last line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.kubesim.persistence import LOG, SNAPSHOT, Persistence
from tests.kubesim.store import Store, TooOld

CONFIGMAPS = ("", "configmaps")
WIDGETS = ("example.io", "widgets")


def _obj(name: str, namespace: str = "default", **data: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"}, **data}


def _contents(store: Store) -> dict[Any, Any]:
    return {gr: {o["metadata"]["name"]: o for o in store.iter(gr)} for gr in store.resources()}


def _persisted_store(directory: Path, limit: int = 1 << 20) -> tuple[Store, Persistence]:
    store = Store()
    persistence = Persistence(directory, log_limit_bytes=limit)
    persistence.load(store)
    persistence.attach(store)
    return store, persistence


def _reload(directory: Path) -> Store:
    store = Store()
    assert Persistence(directory).load(store)
    return store


def test_writes_and_removals_come_back_with_their_resource_versions(tmp_path: Path) -> None:
    store, persistence = _persisted_store(tmp_path)
    store.put(CONFIGMAPS, _obj("a", data={"k": "1"}), "ADDED")
    store.put(CONFIGMAPS, _obj("b"), "ADDED")
    store.put(CONFIGMAPS, _obj("a", data={"k": "2"}), "MODIFIED")
    store.put(WIDGETS, _obj("w", spec={"size": 3}), "ADDED")
    store.remove(CONFIGMAPS, "default", "b")  # the removal takes a resourceVersion too
    persistence.close()

    loaded = _reload(tmp_path)
    assert loaded.rv == store.rv == 5
    assert _contents(loaded) == _contents(store)
    assert loaded.get(CONFIGMAPS, "default", "a") == {
        **_obj("a", data={"k": "2"}),
        "metadata": {**_obj("a")["metadata"], "resourceVersion": "3"},
    }
    assert loaded.by_uid("uid-w") == (WIDGETS, "default", "w")
    assert loaded.next_rv() == 6  # the sequence continues, never goes back


def test_owner_index_is_rebuilt_for_garbage_collection(tmp_path: Path) -> None:
    store, persistence = _persisted_store(tmp_path)
    store.put(CONFIGMAPS, _obj("owner"), "ADDED")
    child = _obj("child")
    child["metadata"]["ownerReferences"] = [{"uid": "uid-owner", "name": "owner"}]
    store.put(CONFIGMAPS, child, "ADDED")
    persistence.close()
    assert _reload(tmp_path).dependents("uid-owner") == [(CONFIGMAPS, "default", "child")]


def test_a_resume_from_before_the_restart_is_gone_and_from_after_it_is_served(
    tmp_path: Path,
) -> None:
    store, persistence = _persisted_store(tmp_path)
    store.put(CONFIGMAPS, _obj("a"), "ADDED")
    store.put(CONFIGMAPS, _obj("b"), "ADDED")
    persistence.close()

    loaded, persistence = _persisted_store(tmp_path)
    with pytest.raises(TooOld):
        loaded.events_since(CONFIGMAPS, 1)
    with pytest.raises(TooOld):  # also for a resource nothing touched since the restart
        loaded.events_since(WIDGETS, 1)
    assert loaded.events_since(CONFIGMAPS, 2) == []
    loaded.put(CONFIGMAPS, _obj("c"), "ADDED")
    assert [e.obj["metadata"]["name"] for e in loaded.events_since(CONFIGMAPS, 2)] == ["c"]
    persistence.close()


def test_the_log_is_compacted_into_a_snapshot(tmp_path: Path) -> None:
    store, persistence = _persisted_store(tmp_path, limit=2000)
    for i in range(60):
        store.put(CONFIGMAPS, _obj(f"cm-{i % 7}", data={"i": str(i)}), "ADDED")
    persistence.close()
    assert (tmp_path / LOG).stat().st_size <= 2000 + 300
    header = json.loads((tmp_path / SNAPSHOT).read_text().splitlines()[0])
    assert header["resourceVersion"] > 40
    loaded = _reload(tmp_path)
    assert loaded.rv == 60
    assert _contents(loaded) == _contents(store)


def test_a_crash_between_snapshot_and_truncation_replays_nothing_twice(tmp_path: Path) -> None:
    store, persistence = _persisted_store(tmp_path)
    store.put(CONFIGMAPS, _obj("a"), "ADDED")
    store.remove(CONFIGMAPS, "default", "a")
    store.put(CONFIGMAPS, _obj("a", data={"again": "yes"}), "ADDED")
    persistence.close()
    old_log = (tmp_path / LOG).read_bytes()
    _, persistence = _persisted_store(tmp_path)  # writes a snapshot at rv 3, empties the log
    persistence.close()
    (tmp_path / LOG).write_bytes(old_log)  # as if killed before the truncation

    loaded = _reload(tmp_path)
    assert loaded.rv == 3
    assert _contents(loaded) == _contents(store)


def test_a_torn_last_line_was_never_acknowledged_and_is_ignored(tmp_path: Path) -> None:
    store, persistence = _persisted_store(tmp_path)
    store.put(CONFIGMAPS, _obj("kept"), "ADDED")
    persistence.close()
    with (tmp_path / LOG).open("ab") as log:
        log.write(b'{"rv": 2, "g": "", "r": "configmaps", "obj": {"metad')

    loaded = _reload(tmp_path)
    assert loaded.rv == 1
    assert [o["metadata"]["name"] for o in loaded.iter(CONFIGMAPS)] == ["kept"]


def test_an_empty_state_directory_loads_nothing(tmp_path: Path) -> None:
    store = Store()
    assert not Persistence(tmp_path / "store").load(store)
    assert store.rv == 0


def test_the_token_signing_key_is_kept(tmp_path: Path) -> None:
    key = Persistence(tmp_path).signing_key()
    assert len(key) == 32
    assert Persistence(tmp_path).signing_key() == key
