"""A smoke-sized run of ``bench/operator.py`` (the core part and one run of the real operator
against the emulator), so the benchmark does not rot."""

from __future__ import annotations

from bench import operator as bench

MIB = 1024 * 1024


def test_core_latency_and_object_sizes() -> None:
    rows, objects = bench.core_latency([10, 40], ["random"], asks=2)
    assert [(row.strategy, row.finished) for row in rows] == [("random", 10), ("random", 40)]
    assert all(row.suggest_ms > 0 and row.step_ms > 0 for row in rows)
    assert objects["trials"] >= 40
    assert 0 < objects["largest_chunk_bytes"] < MIB
    assert objects["status_bytes"] < 4096


def test_the_operator_against_the_emulator() -> None:
    result = bench.cluster_run("smoke", tuningjobs=1, trials=6, parallel=1, timeout=120)
    summary = result.summary()
    assert summary["trials"] == 6
    assert len(result.turnaround_ms) == 5  # every trial but the first follows one
    assert summary["requests_per_trial_by_verb"]["create jobs"] == 1.0
    assert summary["requests_per_trial"] <= 10
    assert 0 < summary["peak_rss_mib"] < 1024
    assert summary["max_object_bytes"] < MIB


def test_turnaround_pairs_a_completion_with_the_next_create() -> None:
    def request(seq: int, time: float, verb: str, agent: str, sub: str = "") -> dict[str, object]:
        return {
            "seq": seq,
            "time": time,
            "verb": verb,
            "resource": "jobs",
            "subresource": sub,
            "namespace": "default",
            "name": "",
            "userAgent": agent,
            "code": 201 if verb == "create" else 200,
        }

    controller = "kubesim-controller/job"
    log = [
        request(1, 0.0, "create", "kubetune-operator"),
        request(2, 0.1, "patch", controller, "status"),
        request(3, 0.5, "patch", controller, "status"),
        request(4, 0.52, "create", "kubetune-operator"),
        request(5, 0.9, "patch", controller, "status"),
        request(6, 0.95, "create", "kubetune-operator"),
    ]
    assert [round(t) for t in bench._turnarounds(log)] == [20, 50]
