"""The ConfigMap study journal against an in-memory CoreV1Api: layout, flushing, chunking,
retries, concurrent writers and restarts."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from kubetune.runtime.kubernetes.journal import (
    ANNOTATION_SEALED,
    ANNOTATION_TUNINGJOB,
    DEFAULT_CHUNK_BYTES,
    LABEL_CHUNK,
    LABEL_TUNINGJOB,
    ConcurrentWriterError,
    ConfigMapJournalBackend,
    JournalEntryTooLargeError,
    KubernetesJournalStorage,
    RetryPolicy,
    StudyJournalError,
    chunk_name,
    delete_study_journal,
    open_journal_storage,
    tuningjob_label,
)
from kubetune.search.study import TuningStudy

from tests.unit.runtime.kubernetes.fake_core import FakeCoreV1Api
from tests.unit.runtime.kubernetes.journal_helpers import (
    run_trials,
    trials_view,
    tuningjob,
    write_bulk_journal,
)

NS = "ml"
NAME = "study-test"
UID = "0b7c6f3e-0000-4000-8000-000000000001"
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
ONE_MIB = 1024 * 1024


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def api() -> FakeCoreV1Api:
    return FakeCoreV1Api()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def open_storage(
    api: FakeCoreV1Api,
    sleeps: Sleeps | None = None,
    name: str = NAME,
    uid: str = UID,
    **options: Any,
) -> KubernetesJournalStorage:
    return open_journal_storage(
        api, name, NS, uid, sleep=sleeps if sleeps is not None else Sleeps(), **options
    )


def backend(
    api: FakeCoreV1Api, sleeps: Sleeps | None = None, **options: Any
) -> ConfigMapJournalBackend:
    return ConfigMapJournalBackend(
        api, NAME, NS, UID, sleep=sleeps if sleeps is not None else Sleeps(), **options
    )


def entry(n: int, pad: int = 0) -> dict[str, Any]:
    return {"op_code": 8, "worker_id": "w", "trial_id": n, "user_attr": {"x": "y" * pad}}


# ---- naming ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "a",
        "quickstart",
        "my.job-1",
        "x" * 63,
        "x" * 64,
        "y" * 242,
        "z" * 243,
        "a" * 253,
        ("ab-" * 84)[:253],
        ("a." * 127)[:253],
        "a" * 61 + "-b" + "c" * 190,
    ],
)
def test_names_and_labels_are_always_valid(name: str) -> None:
    for index in (0, 7, 12345):
        configmap = chunk_name(name, index)
        assert len(configmap) <= 253
        assert DNS_SUBDOMAIN.match(configmap), configmap
    label = tuningjob_label(name)
    assert len(label) <= 63
    assert LABEL_VALUE.match(label), label


def test_short_names_read_plainly_and_long_ones_stay_distinct() -> None:
    assert chunk_name("mnist", 3) == "mnist-study-0003"
    assert tuningjob_label("mnist") == "mnist"
    long_a, long_b = "a" * 250 + "x", "a" * 250 + "y"
    assert chunk_name(long_a, 0) != chunk_name(long_b, 0)
    assert tuningjob_label(long_a) != tuningjob_label(long_b)
    assert chunk_name(long_a, 0) == chunk_name(long_a, 0)


# ---- layout ---------------------------------------------------------------------------------
def test_first_flush_creates_an_owned_labelled_chunk(api: FakeCoreV1Api) -> None:
    journal = backend(api)
    journal.append_logs([entry(1), entry(2)])
    journal.flush()
    (configmap,) = api.configmaps(NS)
    meta = configmap["metadata"]
    assert meta["name"] == f"{NAME}-study-0000"
    assert meta["labels"] == {
        "kubetune.io/tuningjob": NAME,
        "kubetune.io/component": "study-journal",
        "kubetune.io/study-chunk": "0",
        "app.kubernetes.io/managed-by": "kubetune",
    }
    assert meta["annotations"][ANNOTATION_TUNINGJOB] == NAME
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "TuningJob",
            "name": NAME,
            "uid": UID,
            "controller": False,
            "blockOwnerDeletion": True,
        }
    ]
    assert configmap["data"] == {
        "b00000000": json.dumps(entry(1), separators=(",", ":"))
        + "\n"
        + json.dumps(entry(2), separators=(",", ":"))
        + "\n",
    }


def test_long_names_are_labelled_with_a_hash_and_annotated_in_full(api: FakeCoreV1Api) -> None:
    name = "n" * 200
    journal = ConfigMapJournalBackend(api, name, NS, UID)
    journal.append_logs([entry(1)])
    journal.flush()
    (configmap,) = api.configmaps(NS)
    assert configmap["metadata"]["labels"][LABEL_TUNINGJOB] == tuningjob_label(name)
    assert configmap["metadata"]["annotations"][ANNOTATION_TUNINGJOB] == name
    assert list(ConfigMapJournalBackend(api, name, NS, UID).read_logs(0)) == [entry(1)]


def test_appends_patch_only_the_new_batch(api: FakeCoreV1Api) -> None:
    journal = backend(api)
    journal.append_logs([entry(1, pad=5000)])
    journal.flush()
    journal.append_logs([entry(2)])
    journal.append_logs([entry(3)])
    journal.flush()
    verb, body = api.bodies[-1]
    assert verb == "patch"
    assert set(body) == {"metadata", "data"}
    assert body["metadata"] == {"resourceVersion": "1"}
    assert list(body["data"]) == ["b00000001"]
    assert len(json.dumps(body)) < 300  # the batch, not the 5 kB already in the chunk


# ---- buffering and the flush contract ---------------------------------------------------------
def test_reads_see_buffered_writes_but_a_fresh_reader_sees_only_flushed(
    api: FakeCoreV1Api,
) -> None:
    journal = backend(api)
    journal.append_logs([entry(1)])
    journal.append_logs([entry(2)])
    assert api.count("create", "patch") == 0
    assert list(journal.read_logs(0)) == [entry(1), entry(2)]
    assert list(journal.read_logs(1)) == [entry(2)]
    assert list(backend(api).read_logs(0)) == []
    journal.flush()
    assert api.count("create", "patch") == 1
    journal.append_logs([entry(3)])  # never flushed: "the operator crashed here"
    assert list(journal.read_logs(2)) == [entry(3)]
    assert list(backend(api).read_logs(0)) == [entry(1), entry(2)]


def test_flush_with_nothing_buffered_sends_nothing(api: FakeCoreV1Api) -> None:
    journal = backend(api)
    journal.flush()
    journal.append_logs([entry(1)])
    journal.flush()
    calls = api.count()
    journal.flush()
    assert api.count() == calls


def test_entries_come_back_as_json_would_return_them(api: FakeCoreV1Api) -> None:
    journal = backend(api)
    journal.append_logs([{"op_code": 0, "worker_id": "w", "directions": (1,), "n": float("inf")}])
    assert list(journal.read_logs(0)) == [
        {"op_code": 0, "worker_id": "w", "directions": [1], "n": float("inf")}
    ]


def test_a_study_survives_a_restart(api: FakeCoreV1Api) -> None:
    job = tuningjob(NAME)
    storage = open_storage(api)
    study = TuningStudy(job, storage)
    run_trials(study, storage, 30)
    before = trials_view(storage, NAME)
    records = study.records()

    restarted = open_storage(api)
    assert trials_view(restarted, NAME) == before
    again = TuningStudy(job, restarted)
    assert again.records() == records
    assert again.started_at == study.started_at
    run_trials(again, restarted, 4)
    assert [r.number for r in again.records()] == list(range(34))


def test_requests_per_trial(api: FakeCoreV1Api) -> None:
    storage = open_storage(api)
    study = TuningStudy(tuningjob(NAME), storage)
    api.calls.clear()
    run_trials(study, storage, 40, parallel=4)
    # one list on first use, then one patch per flush: two flushes per wave of four trials
    assert api.count("list", "get") == 0
    assert api.count("patch", "create") == 20


# ---- chunks ---------------------------------------------------------------------------------
def test_chunks_roll_over_and_are_sealed(api: FakeCoreV1Api) -> None:
    limit = 4096
    storage = open_storage(api, max_chunk_bytes=limit)
    study = TuningStudy(tuningjob(NAME), storage)
    run_trials(study, storage, 25)
    configmaps = api.configmaps(NS)
    assert len(configmaps) > 5
    assert [c["metadata"]["labels"][LABEL_CHUNK] for c in configmaps] == [
        str(i) for i in range(len(configmaps))
    ]
    for configmap in configmaps[:-1]:
        assert configmap["metadata"]["annotations"][ANNOTATION_SEALED] == "true"
        assert configmap["immutable"] is True
    assert ANNOTATION_SEALED not in configmaps[-1]["metadata"]["annotations"]
    for configmap in configmaps:
        assert len(json.dumps(configmap["data"])) <= limit
    before = trials_view(storage, NAME)
    restarted = open_storage(api, max_chunk_bytes=limit)
    assert trials_view(restarted, NAME) == before
    assert restarted.backend.chunks == len(configmaps)


def test_one_flush_across_chunk_boundaries(api: FakeCoreV1Api) -> None:
    journal = backend(api, max_chunk_bytes=1000)
    journal.append_logs([entry(n, pad=100) for n in range(30)])
    journal.flush()
    assert journal.pending == 0
    assert journal.chunks == api.count("create") > 3
    assert api.count("patch") == journal.chunks - 1  # the seals
    assert list(backend(api, max_chunk_bytes=1000).read_logs(0)) == [
        entry(n, pad=100) for n in range(30)
    ]


def test_an_entry_larger_than_a_chunk_is_refused(api: FakeCoreV1Api) -> None:
    journal = backend(api, max_chunk_bytes=1000)
    with pytest.raises(JournalEntryTooLargeError, match="does not fit"):
        journal.append_logs([entry(1), entry(2, pad=2000)])
    assert journal.pending == 0


def test_restart_after_a_seal_without_its_next_chunk(api: FakeCoreV1Api) -> None:
    journal = backend(api, max_chunk_bytes=1000)
    journal.append_logs([entry(n, pad=200) for n in range(3)])
    journal.flush()
    api.fail("create", 503, count=10)
    journal.append_logs([entry(3, pad=200), entry(4, pad=200)])
    with pytest.raises(StudyJournalError, match="503"):
        journal.flush()
    assert api.configmaps(NS)[-1]["metadata"]["annotations"][ANNOTATION_SEALED] == "true"
    api.faults.clear()
    journal.flush()  # what was not written stays buffered
    restarted = backend(api, max_chunk_bytes=1000)
    assert list(restarted.read_logs(0)) == [entry(n, pad=200) for n in range(5)]
    restarted.append_logs([entry(5)])
    restarted.flush()
    assert list(backend(api).read_logs(0)) == [entry(n, pad=200) for n in range(5)] + [entry(5)]


# ---- robustness -----------------------------------------------------------------------------
def test_malformed_lines_are_logged_and_skipped(
    api: FakeCoreV1Api,
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = backend(api)
    journal.append_logs([entry(1)])
    journal.flush()
    api.edit(
        NS,
        chunk_name(NAME, 0),
        {
            "data": {
                "b00000000": api.configmaps(NS)[0]["data"]["b00000000"] + "{not json\n[1,2]\n",
                "b00000001": json.dumps(entry(2)) + "\n",
                "notes": "a key someone added by hand",
            }
        },
    )
    with caplog.at_level(logging.WARNING):
        assert list(backend(api).read_logs(0)) == [entry(1), entry(2)]
    assert "malformed" in caplog.text
    assert "notes" in caplog.text


def test_a_missing_chunk_is_an_error_not_a_silent_gap(api: FakeCoreV1Api) -> None:
    journal = backend(api, max_chunk_bytes=1000)
    journal.append_logs([entry(n, pad=300) for n in range(6)])
    journal.flush()
    del api.objects[(NS, chunk_name(NAME, 1))]
    with pytest.raises(StudyJournalError, match=r"missing chunk study-test-study-0001"):
        backend(api).read_logs(0)


def test_chunks_of_another_owner_are_ignored_and_never_overwritten(
    api: FakeCoreV1Api,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stale = backend(api)
    stale.append_logs([entry(1)])
    stale.flush()
    api.edit(
        NS,
        chunk_name(NAME, 0),
        {
            "metadata": {
                "ownerReferences": [
                    {
                        "apiVersion": "kubetune.io/v1alpha1",
                        "kind": "TuningJob",
                        "name": NAME,
                        "uid": "an-earlier-tuningjob",
                    }
                ]
            }
        },
    )
    journal = backend(api)
    with caplog.at_level(logging.WARNING):
        assert list(journal.read_logs(0)) == []
    assert "not owned" in caplog.text
    journal.append_logs([entry(2)])
    with pytest.raises(StudyJournalError, match="garbage-collected"):
        journal.flush()
    assert (
        api.configmaps(NS)[0]["data"]["b00000000"]
        == json.dumps(entry(1), separators=(",", ":")) + "\n"
    )


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, None])
def test_transient_errors_are_retried_with_backoff(
    api: FakeCoreV1Api,
    sleeps: Sleeps,
    status: int | None,
) -> None:
    journal = backend(api, sleeps)
    api.fail("list", status, count=2)
    api.fail("create", status, count=1)
    journal.append_logs([entry(1)])
    journal.flush()
    api.fail("patch", status, count=2)
    journal.append_logs([entry(2)])
    journal.flush()
    assert list(backend(api).read_logs(0)) == [entry(1), entry(2)]
    assert sleeps == [0.2, 0.4, 0.2, 0.2, 0.4]


def test_retry_after_is_respected_within_bounds(api: FakeCoreV1Api, sleeps: Sleeps) -> None:
    journal = backend(api, sleeps, retry=RetryPolicy(max_retry_after=10))
    api.fail("list", 429, retry_after="3")
    api.fail("list", 429, retry_after="120")
    journal.load()
    assert sleeps == [3.0, 10.0]


def test_errors_that_persist_raise_after_bounded_attempts(
    api: FakeCoreV1Api,
    sleeps: Sleeps,
) -> None:
    journal = backend(api, sleeps, retry=RetryPolicy(attempts=3))
    journal.append_logs([entry(1)])
    api.fail("create", 503, count=5)
    with pytest.raises(StudyJournalError, match=r"HTTP 503.*after 3 attempts"):
        journal.flush()
    assert api.count("create") == 3
    assert journal.pending == 1


def test_permanent_errors_are_not_retried(api: FakeCoreV1Api, sleeps: Sleeps) -> None:
    journal = backend(api, sleeps)
    journal.append_logs([entry(1)])
    api.fail("create", 403)
    with pytest.raises(StudyJournalError, match="HTTP 403"):
        journal.flush()
    assert sleeps == []
    journal.flush()
    assert list(backend(api).read_logs(0)) == [entry(1)]


@pytest.mark.parametrize("verb", ["create", "patch"])
def test_a_write_whose_response_was_lost_is_not_applied_twice(
    api: FakeCoreV1Api,
    verb: str,
) -> None:
    journal = backend(api)
    journal.append_logs([entry(1)])
    if verb == "patch":
        journal.flush()
    journal.append_logs([entry(2)])
    api.fail(verb, None, after_write=True)
    journal.flush()
    assert api.count(verb) == 2  # the lost one, then a retry answered with 409
    assert api.count("get") == 1  # which reads the chunk back and finds the batch there
    expected = [entry(1), entry(2)]
    assert list(journal.read_logs(0)) == expected
    assert list(backend(api).read_logs(0)) == expected
    journal.append_logs([entry(3)])
    journal.flush()
    assert list(backend(api).read_logs(0)) == [*expected, entry(3)]


def test_an_unknown_outcome_is_settled_by_the_next_flush(
    api: FakeCoreV1Api, sleeps: Sleeps
) -> None:
    journal = backend(api, sleeps, retry=RetryPolicy(attempts=2))
    journal.append_logs([entry(1)])
    journal.flush()
    journal.append_logs([entry(2)])
    api.fail("patch", None, after_write=True)  # it lands, the response is lost ...
    api.fail("get", 503, count=2)  # ... and reading the chunk back fails too
    with pytest.raises(StudyJournalError, match="503"):
        journal.flush()
    assert journal.pending == 1
    journal.append_logs([entry(3)])  # more entries arrive before the next flush
    journal.flush()
    assert journal.pending == 0
    expected = [entry(1), entry(2), entry(3)]
    assert list(journal.read_logs(0)) == expected
    assert list(backend(api).read_logs(0)) == expected


def test_a_harmless_edit_by_someone_else_is_retried(api: FakeCoreV1Api) -> None:
    journal = backend(api)
    journal.append_logs([entry(1)])
    journal.flush()
    api.edit(NS, chunk_name(NAME, 0), {"metadata": {"labels": {"team": "vision"}}})
    journal.append_logs([entry(2)])
    journal.flush()
    assert list(backend(api).read_logs(0)) == [entry(1), entry(2)]
    assert api.count("get") == 1  # only the last chunk is read again


def test_each_retried_request_calls_on_retry(api: FakeCoreV1Api, sleeps: Sleeps) -> None:
    retries: list[int] = []
    storage = open_storage(api, sleeps, on_retry=lambda: retries.append(api.count()))
    journal = storage.backend
    journal.append_logs([entry(1)])
    journal.flush()
    assert retries == []  # nothing retried, nothing counted

    # a conflict on a harmless change: read back, then the append is retried once
    api.edit(NS, chunk_name(NAME, 0), {"metadata": {"labels": {"team": "vision"}}})
    journal.append_logs([entry(2)])
    journal.flush()
    assert api.count("patch") == 2
    assert len(retries) == 1
    assert sleeps == []  # a conflict is retried at once

    # transient errors: each retry is counted, before its backoff
    api.fail("patch", 503, count=2)
    journal.append_logs([entry(3)])
    journal.flush()
    assert len(retries) == 3
    assert sleeps == [0.2, 0.4]

    # a lost response, then the read-back after the 409 fails once: both retries count, the
    # 409 itself does not (it shows the append had landed)
    api.fail("patch", None, after_write=True)
    api.fail("get", None)
    journal.append_logs([entry(4)])
    journal.flush()
    assert api.count("patch") == 7  # 5 before, the lost one, the retry answered 409
    assert len(retries) == 5
    assert list(backend(api).read_logs(0)) == [entry(1), entry(2), entry(3), entry(4)]

    # the hook can be set on the storage later, as on the Kubernetes backend
    counted: list[str] = []
    storage.on_retry = lambda: counted.append("retry")
    assert journal.on_retry is storage.on_retry
    api.fail("patch", 429, count=1)
    journal.append_logs([entry(5)])
    journal.flush()
    assert counted == ["retry"]
    assert len(retries) == 5


def test_on_retry_is_not_called_for_what_is_not_retried(api: FakeCoreV1Api, sleeps: Sleeps) -> None:
    retries: list[str] = []
    journal = backend(api, sleeps, on_retry=lambda: retries.append("retry"))
    journal.append_logs([entry(1)])
    api.fail("create", 403)
    with pytest.raises(StudyJournalError, match="HTTP 403"):
        journal.flush()
    assert retries == []  # permanent: not retried

    journal = backend(
        api, sleeps, retry=RetryPolicy(attempts=3), on_retry=lambda: retries.append("retry")
    )
    journal.append_logs([entry(1)])
    api.fail("create", 503, count=5)
    with pytest.raises(StudyJournalError, match="after 3 attempts"):
        journal.flush()
    assert retries == ["retry", "retry"]  # three attempts are two retries


def test_a_second_writer_is_detected(api: FakeCoreV1Api) -> None:
    first, second = backend(api), backend(api)
    first.append_logs([entry(1)])
    first.flush()
    first.load()
    second.load()
    first.append_logs([entry(2)])
    first.flush()
    second.append_logs([entry(3)])
    with pytest.raises(ConcurrentWriterError, match="second operator"):
        second.flush()
    assert list(backend(api).read_logs(0)) == [entry(1), entry(2)]


def test_a_second_writer_is_detected_across_a_chunk_boundary(api: FakeCoreV1Api) -> None:
    first, second = backend(api, max_chunk_bytes=1000), backend(api, max_chunk_bytes=1000)
    first.append_logs([entry(1, pad=300), entry(2, pad=300)])
    first.flush()
    second.load()
    first.append_logs([entry(3, pad=300)])  # seals chunk 0, creates chunk 1
    first.flush()
    second.append_logs([entry(4, pad=300)])
    with pytest.raises(ConcurrentWriterError):
        second.flush()
    second = backend(api, max_chunk_bytes=1000)
    second.load()
    first.append_logs([entry(5, pad=10)])
    first.flush()
    second.append_logs([entry(6, pad=10)])
    with pytest.raises(ConcurrentWriterError):
        second.flush()
    assert [e["trial_id"] for e in backend(api).read_logs(0)] == [1, 2, 3, 5]


def test_the_chunk_vanishing_is_an_error(api: FakeCoreV1Api) -> None:
    journal = backend(api)
    journal.append_logs([entry(1)])
    journal.flush()
    api.objects.clear()
    journal.append_logs([entry(2)])
    with pytest.raises(StudyJournalError, match="404"):
        journal.flush()


def test_delete_study_journal(api: FakeCoreV1Api) -> None:
    journal = backend(api, max_chunk_bytes=1000)
    journal.append_logs([entry(n, pad=300) for n in range(6)])
    journal.flush()
    other = ConfigMapJournalBackend(api, "other", NS, UID)
    other.append_logs([entry(1)])
    other.flush()
    delete_study_journal(api, NAME, NS)
    assert [c["metadata"]["name"] for c in api.configmaps(NS)] == ["other-study-0000"]


def test_uid_is_required(api: FakeCoreV1Api) -> None:
    with pytest.raises(ValueError, match="uid"):
        ConfigMapJournalBackend(api, NAME, NS, "")


# ---- scale ----------------------------------------------------------------------------------
def test_a_large_study_stays_small_and_replays(api: FakeCoreV1Api) -> None:
    """2,000 trials here (kubesim's integration test writes 10,000)."""
    storage = open_storage(api)
    write_bulk_journal(storage, NAME, 2_000)
    configmaps = api.configmaps(NS)
    assert len(configmaps) >= 5
    assert max(len(json.dumps(c)) for c in configmaps) < DEFAULT_CHUNK_BYTES + 4096
    view = trials_view(open_storage(api), NAME)
    assert len(view) == 2_000
    assert view == trials_view(storage, NAME)
