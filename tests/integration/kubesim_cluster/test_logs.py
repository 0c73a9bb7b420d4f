"""Pod logs of real container output: per-line timestamps (``sinceSeconds``, ``sinceTime``,
``timestamps``), partial lines, large outputs, restarts and ``previous``, ``follow``."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubesim.harness import KubeSim, wait_until

from .support import job_manifest, job_pods, pid_alive, wait_job_condition, wait_log_line

STAMPED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$")


def _pod_name(core: client.CoreV1Api, ns: str, job: str) -> str:
    pods = wait_until(lambda: job_pods(core, ns, job), message=f"pod of job {job}")
    return str(pods[0].metadata.name)


def _stamped(text: str) -> list[tuple[datetime, str]]:
    """(timestamp, line) of every line of a ``timestamps=true`` log; fails on a bare line."""
    entries = []
    for line in text.splitlines():
        match = STAMPED.match(line)
        assert match, f"line without an RFC 3339 nano timestamp: {line!r}"
        # datetime keeps microseconds: drop the last three digits of the nanoseconds.
        entries.append((datetime.fromisoformat(match[1][:-4] + "+00:00"), match[2]))
    return entries


def _raw_log(sim: KubeSim, ns: str, pod: str, **query: str) -> tuple[int, str]:
    """GET pods/log with query parameters the typed client lacks (``sinceTime``)."""
    url = f"{sim.url}/api/v1/namespaces/{ns}/pods/{pod}/log?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_since_seconds_and_timestamps_are_per_line(
    core: client.CoreV1Api, batch: client.BatchV1Api, sim: KubeSim, ns: str
) -> None:
    script = "import time; print('early'); time.sleep(5); print('late'); time.sleep(30)"
    batch.create_namespaced_job(ns, job_manifest("since", ["python", "-c", script]))
    pod = _pod_name(core, ns, "since")
    wait_log_line(core, ns, pod, r"late")
    # Read at once: "late" was printed moments ago (this read has 3 s to happen), "early" five
    # seconds before it. (The file's modification time is "now" for both, so a filter on it
    # would return both lines.)
    assert core.read_namespaced_pod_log(pod, ns, since_seconds=3) == "late\n"
    assert core.read_namespaced_pod_log(pod, ns) == "early\nlate\n"

    (early_at, early), (late_at, late) = _stamped(
        core.read_namespaced_pod_log(pod, ns, timestamps=True)
    )
    assert (early, late) == ("early", "late")
    assert late_at - early_at >= timedelta(seconds=4.5)
    assert abs(datetime.now(late_at.tzinfo) - late_at) < timedelta(seconds=30)

    # sinceTime keeps the lines stamped at or after it, whatever the time is now.
    since = late_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert _raw_log(sim, ns, pod, sinceTime=since) == (200, "late\n")
    since = early_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert _raw_log(sim, ns, pod, sinceTime=since) == (200, "early\nlate\n")
    assert core.read_namespaced_pod_log(pod, ns, since_seconds=3600, tail_lines=1) == "late\n"
    assert core.read_namespaced_pod_log(pod, ns, since_seconds=3600, limit_bytes=3) == "ear"
    batch.delete_namespaced_job("since", ns, propagation_policy="Background")


def test_partial_lines_restarts_and_previous(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran-once"
    script = (
        "import os, sys\n"
        f"if os.path.exists({str(marker)!r}):\n"
        "    sys.stdout.write('second run\\nends without newline')\n"
        "    sys.exit(0)\n"
        f"open({str(marker)!r}, 'w').close()\n"
        "sys.stdout.write('first run\\nhalf a line')\n"
        "sys.stderr.write('... then stderr\\n')\n"
        "sys.exit(1)\n"
    )
    manifest = job_manifest(
        "again", ["python", "-c", script], pod_spec={"restartPolicy": "OnFailure"}
    )
    batch.create_namespaced_job(ns, manifest)
    wait_job_condition(batch, ns, "again", "Complete")
    [pod] = job_pods(core, ns, "again")
    assert pod.status.container_statuses[0].restart_count == 1
    name = pod.metadata.name
    # A line cut short by the process's exit is ended by a newline (as CRI runtimes do), so
    # the next run's output starts a line of its own; runs append.
    assert core.read_namespaced_pod_log(name, ns) == (
        "first run\nhalf a line... then stderr\nsecond run\nends without newline\n"
    )
    stamped = _stamped(core.read_namespaced_pod_log(name, ns, timestamps=True))
    assert [line for _, line in stamped] == [
        "first run",
        "half a line... then stderr",
        "second run",
        "ends without newline",
    ]
    assert [at for at, _ in stamped] == sorted(at for at, _ in stamped)
    assert core.read_namespaced_pod_log(name, ns, previous=True) == (
        "first run\nhalf a line... then stderr\n"
    )
    assert core.read_namespaced_pod_log(name, ns, previous=True, tail_lines=1) == (
        "half a line... then stderr\n"
    )

    batch.create_namespaced_job(ns, job_manifest("once", ["echo", "only run"]))
    wait_job_condition(batch, ns, "once", "Complete")
    [pod] = job_pods(core, ns, "once")
    assert core.read_namespaced_pod_log(pod.metadata.name, ns) == "only run\n"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log(pod.metadata.name, ns, previous=True)
    assert exc.value.status == 400
    assert json.loads(exc.value.body)["message"] == (
        f'previous terminated container "main" in pod "{pod.metadata.name}" not found'
    )


def test_large_output_keeps_every_line(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    count = 200_000  # ~4 MB: many pipe reads, lines split across them
    script = (
        "import sys\n"
        f"sys.stdout.write(''.join(f'line {{i:06d}} ' + 'x' * (i % 37) + '\\n' "
        f"for i in range({count})))\n"
    )
    batch.create_namespaced_job(ns, job_manifest("big", ["python", "-c", script]))
    wait_job_condition(batch, ns, "big", "Complete", timeout=60)
    [pod] = job_pods(core, ns, "big")
    expected = "".join(f"line {i:06d} " + "x" * (i % 37) + "\n" for i in range(count))
    assert core.read_namespaced_pod_log(pod.metadata.name, ns) == expected
    stamped = core.read_namespaced_pod_log(pod.metadata.name, ns, timestamps=True).splitlines()
    assert len(stamped) == count
    assert all(STAMPED.match(line) for line in stamped)
    last = core.read_namespaced_pod_log(pod.metadata.name, ns, tail_lines=2)
    assert last.splitlines() == expected.splitlines()[-2:]


def test_follow_streams_lines_as_they_are_printed(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    script = (
        "import os, sys, time\n"
        "print('one')\n"
        f"while not os.path.exists({str(gate)!r}):\n"
        "    time.sleep(0.05)\n"
        "sys.stdout.write('two\\nthree')\n"
    )
    batch.create_namespaced_job(ns, job_manifest("follow", ["python", "-c", script]))
    pod = _pod_name(core, ns, "follow")
    wait_log_line(core, ns, pod, r"one")
    response: Any = core.read_namespaced_pod_log(
        pod, ns, follow=True, _preload_content=False, _request_timeout=30
    )
    try:
        chunks = response.stream(1024)
        assert next(chunks) == b"one\n"  # sent before "two" exists: streamed, not buffered
        gate.touch()
        rest = b"".join(chunks)  # ends by itself once the container has terminated
    finally:
        response.release_conn()
    assert rest == b"two\nthree\n"


def test_output_held_by_an_escaped_process_does_not_block_the_pod(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    # A grandchild in a session of its own survives the container (nothing kills it) and keeps
    # the output pipe open: the container still terminates, with what it printed in the log.
    script = (
        "import subprocess\n"
        "child = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "print(f'escaped={child.pid}')\n"
    )
    batch.create_namespaced_job(ns, job_manifest("escape", ["python", "-c", script]))
    pod = _pod_name(core, ns, "escape")
    pid = int(wait_log_line(core, ns, pod, r"escaped=(\d+)")[1])
    try:
        wait_job_condition(batch, ns, "escape", "Complete", timeout=20)
        assert core.read_namespaced_pod_log(pod, ns) == f"escaped={pid}\n"
        assert pid_alive(pid)
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_kubelet_log_file_is_in_cri_format(
    core: client.CoreV1Api, batch: client.BatchV1Api, sim: KubeSim, ns: str
) -> None:
    batch.create_namespaced_job(ns, job_manifest("raw", [sys.executable, "-c", "print('x')"]))
    wait_job_condition(batch, ns, "raw", "Complete")
    [pod] = job_pods(core, ns, "raw")
    text = sim.container_log(ns, pod.metadata.name, "main").read_text()
    assert text.endswith("\n")
    match = STAMPED.match(text.rstrip("\n"))
    assert match
    assert match[2] == "x"
