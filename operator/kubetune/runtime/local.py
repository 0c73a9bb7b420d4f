"""The local backend: each trial's primary container command runs as a process on this machine.

The image is ignored (there is no container runtime); the command, args, env and workingDir of
the primary container are used as written, after parameter injection. ``python``/``python3`` as
the command run with the interpreter kubetune itself runs on, so a virtualenv just works.

A multi-pod template (an Indexed Job: ``completionMode: Indexed``, ``completions`` N) runs as N
processes with ``JOB_COMPLETION_INDEX`` 0 … N-1, as the Job controller would start N pods; the
trial succeeds when all of them do, fails (the others stopped) when one fails, and its metrics
come from index 0's log. Indexes above 0 log to ``<trial>-<index>.log`` beside it.

A process killed by a signal kubetune did not send fails its trial: ``OOMKilled`` when it was a
SIGKILL while the kernel's OOM killer ran in our cgroup (:mod:`kubetune.runtime.oom`), else
``Error``, the signal named in the message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetune.api.spec import TuningJob
from kubetune.api.status import TrialReason
from kubetune.controller.model import Phase, RuntimeTrial
from kubetune.controller.template import primary_container_index, render_trial_job
from kubetune.metrics.lines import read_lines
from kubetune.metrics.logs import LogMetricsParser, MetricSeries
from kubetune.metrics.prometheus import PrometheusMetrics, TrialRef
from kubetune.names import trial_name
from kubetune.runtime.oom import OomWitness, memory_events_path
from kubetune.runtime.processes import kill_tree
from kubetune.trials import ParamValue

log = logging.getLogger(__name__)

PYTHON_COMMANDS = ("python", "python3", f"python{sys.version_info.major}.{sys.version_info.minor}")
LAST_LINES_IN_MESSAGE = 3
INDEX_ENV = "JOB_COMPLETION_INDEX"
# A running trial's log is parsed for this long per look, at most (the rest waits for the
# next look), in chunks of this size.
MAX_POLL_SECONDS = 0.1
POLL_CHUNK_BYTES = 32 * 1024


def completion_indexes(rendered: Mapping[str, Any]) -> int:
    """How many processes a rendered trial Job runs locally: ``completions`` for an Indexed
    Job, else one."""
    spec = rendered.get("spec") or {}
    if spec.get("completionMode") != "Indexed":
        return 1
    return max(1, int(spec.get("completions") or 1))


@dataclass(frozen=True)
class LocalCommand:
    """What a trial runs locally, derived from its rendered Job."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    ignored: list[str] = field(default_factory=list)  # what the local runner cannot honour


def local_command(job: TuningJob, rendered: Mapping[str, Any], base_dir: Path) -> LocalCommand:
    """The primary container of a rendered trial Job as a local command."""
    if not job.spec.trial_template.is_job:
        kind = job.spec.trial_template.kind
        raise ValueError(f"kubetune run runs batch/v1 Job trials only (trialTemplate.kind {kind})")
    containers = rendered["spec"]["template"]["spec"]["containers"]
    container = containers[primary_container_index(job)]
    path = f"primary container {container['name']!r}"
    argv = [str(part) for part in [*container.get("command", []), *container.get("args", [])]]
    if not container.get("command"):
        raise ValueError(
            f"{path} has no command; the local runner cannot use the image's entrypoint"
        )
    if argv[0] in PYTHON_COMMANDS:
        argv[0] = sys.executable
    ignored = []
    env = dict(os.environ)
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif "valueFrom" in item:
            ignored.append(f"env {item['name']} (valueFrom)")
    if container.get("envFrom"):
        ignored.append("envFrom")
    working_dir = container.get("workingDir")
    cwd = base_dir
    if working_dir and Path(working_dir).is_dir():
        cwd = Path(working_dir)
    elif working_dir:
        ignored.append(f"workingDir {working_dir} (not on this machine)")
    return LocalCommand(argv=argv, env=env, cwd=cwd, ignored=ignored)


@dataclass
class _LocalTrial:
    number: int
    processes: list[subprocess.Popen[bytes]]  # one per completion index; [0] logs the metrics
    log_path: Path
    started: float
    result: RuntimeTrial | None = None  # set once the process has ended
    timed_out: bool = False
    stopped: bool = False
    live: _LogFollower | None = None  # what it printed so far, while it runs
    ended: float | None = None
    oom: OomWitness | None = None

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.processes[0] if self.processes else None


class _LogFollower:
    """Parses a running trial's log incrementally: each call reads only the new bytes.

    They are read in bounded chunks and cut into lines the way the final parse of the whole log
    cuts them (``LineSplitter``): a huge line costs time, never memory, and the series keeps a
    bounded curve however much the trial prints.
    """

    def __init__(self, job: TuningJob, path: Path) -> None:
        self.path = path
        self.parser = LogMetricsParser(job.spec.metrics, job.spec.recorded_metrics)
        self.offset = 0

    def poll(self) -> MetricSeries:
        """What the trial printed since the last call, for at most ``MAX_POLL_SECONDS``: a
        trial printing faster than it can be parsed must not make one step (and so Ctrl-C,
        which is checked between steps) wait for ever; the rest is read on the next calls."""
        began = time.monotonic()
        try:
            with self.path.open("rb") as handle:
                end = os.fstat(handle.fileno()).st_size  # no chasing a trial that writes on
                handle.seek(self.offset)
                while self.offset < end and time.monotonic() - began < MAX_POLL_SECONDS:
                    chunk = handle.read(min(POLL_CHUNK_BYTES, end - self.offset))
                    if not chunk:
                        break
                    self.offset += len(chunk)
                    self.parser.feed_bytes(chunk)  # a partial last line waits for its end
        except OSError:
            pass
        return self.parser.series


class LocalBackend:
    """Trials as processes, ``Tuner``'s backend for ``kubetune run``."""

    def __init__(
        self,
        job: TuningJob,
        base_dir: Path,
        log_dir: Path,
        prometheus: PrometheusMetrics | None = None,
    ) -> None:
        self.job = job
        self.prometheus = prometheus  # for metrics.source prometheus
        self.base_dir = base_dir
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._trials: dict[int, _LocalTrial] = {}
        self._lock = threading.Lock()
        self.changed = threading.Event()
        self.notes: list[str] = []
        self._memory_events = memory_events_path()

    def log_path(self, number: int) -> Path:
        return self.log_dir / f"{trial_name(self.job.name, number)}.log"

    def launch(self, number: int, params: Mapping[str, ParamValue]) -> None:
        with self._lock:
            existing = self._trials.get(number)
            if existing is not None and existing.result is None:
                return
        rendered = render_trial_job(self.job, number, params)
        log_path = self.log_path(number)
        trial = _LocalTrial(number, [], log_path, time.time())
        if self.job.spec.metrics.source == "logs":
            trial.live = _LogFollower(self.job, log_path)
        indexes = completion_indexes(rendered)
        trial.oom = OomWitness(self._memory_events)
        try:
            command = local_command(self.job, rendered, self.base_dir)
            for index in range(indexes):
                env = dict(command.env)
                if indexes > 1:
                    env[INDEX_ENV] = str(index)
                path = log_path if index == 0 else self._index_log_path(number, index)
                with path.open("wb") as output:
                    trial.processes.append(
                        subprocess.Popen(
                            command.argv,
                            env=env,
                            cwd=command.cwd,
                            stdin=subprocess.DEVNULL,
                            stdout=output,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,  # its own group: the whole tree can be killed
                        )
                    )
        except (OSError, ValueError) as error:
            for process in trial.processes:
                kill_tree(process, grace=0)
            trial.processes = []
            trial.result = RuntimeTrial(
                number, Phase.FAILED, TrialReason.LAUNCH_FAILED, f"could not start: {error}"
            )
            with self._lock:
                self._trials[number] = trial
            self.changed.set()
            return
        for item in command.ignored:
            if item not in self.notes:
                self.notes.append(item)
        with self._lock:
            self._trials[number] = trial
        threading.Thread(target=self._watch, args=(trial,), daemon=True).start()

    def _index_log_path(self, number: int, index: int) -> Path:
        return self.log_dir / f"{trial_name(self.job.name, number)}-{index}.log"

    def _watch(self, trial: _LocalTrial) -> None:
        """Wait for the processes (enforcing trialTimeout; one failing stops the others), then
        record how the trial ended."""
        timeout = self.job.spec.limits.trial_timeout_seconds
        deadline = None if timeout is None else trial.started + timeout
        failed: tuple[int, int] | None = None  # (index, return code) of the first failure
        waiting = dict(enumerate(trial.processes))
        while waiting and failed is None:
            for index, process in list(waiting.items()):
                code = process.poll()
                if code is None:
                    continue
                del waiting[index]
                if code != 0:
                    failed = (index, code)
                    break
            if waiting and failed is None:
                if deadline is not None and time.time() >= deadline:
                    trial.timed_out = True
                    break
                # One process: block on it; several: look at each in turn, briefly.
                first = next(iter(waiting.values()))
                wait = 0.05 if len(waiting) > 1 else None
                if deadline is not None:
                    left = max(0.0, deadline - time.time())
                    wait = left if wait is None else min(wait, left)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    first.wait(timeout=wait)
        for process in trial.processes:
            # Reap what the trial left behind in its groups; stop the rest of a failed trial.
            kill_tree(process, grace=0 if process.poll() is not None else 2.0)
        trial.ended = time.time()
        if failed is None:
            failed = next(
                ((i, p.returncode) for i, p in enumerate(trial.processes) if p.returncode != 0),
                None,
            )
        trial.result = self._result(trial, failed)
        self.changed.set()

    def _result(self, trial: _LocalTrial, failed: tuple[int, int] | None) -> RuntimeTrial:
        parser = LogMetricsParser(self.job.spec.metrics, self.job.spec.recorded_metrics)
        tail: list[str] = []
        with trial.log_path.open("rb") as stream:
            for line in read_lines(stream):  # bounded chunks: a huge line is cut as it is read
                parser.feed(line)
                tail = [*tail[-(LAST_LINES_IN_MESSAGE - 1) :], line.rstrip()[:200]]
        number = trial.number
        if trial.timed_out:
            limit = self.job.spec.limits.trial_timeout
            return RuntimeTrial(
                number,
                Phase.FAILED,
                TrialReason.DEADLINE_EXCEEDED,
                f"killed after trialTimeout {limit}",
                metrics=parser.series,
            )
        if failed is None:
            return RuntimeTrial(number, Phase.SUCCEEDED, metrics=parser.series)
        index, code = failed
        where = f"index {index} " if len(trial.processes) > 1 else ""
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        reason = TrialReason.ERROR
        if code == -signal.SIGKILL and not trial.stopped:
            if trial.oom is not None and trial.oom.saw_oom_kill():
                reason = TrialReason.OOM_KILLED
                how += " (the kernel's OOM killer ran: out of memory)"
            else:
                how += " (not sent by kubetune)"
        last = f"; last output: {' | '.join(tail)}" if tail and index == 0 else ""
        return RuntimeTrial(number, Phase.FAILED, reason, where + how + last, metrics=parser.series)

    def observe(self, running: Collection[int] = ()) -> Mapping[int, RuntimeTrial]:
        with self._lock:
            trials = list(self._trials.values())
        if self.prometheus is not None:
            return {t.number: self._from_prometheus(t, self.prometheus) for t in trials}
        return {t.number: t.result or self._running(t) for t in trials}

    def _running(self, trial: _LocalTrial) -> RuntimeTrial:
        """A running trial with what it has printed so far (for early stopping)."""
        series = trial.live.poll().snapshot() if trial.live is not None else None
        return RuntimeTrial(trial.number, Phase.RUNNING, metrics=series)

    def _from_prometheus(self, trial: _LocalTrial, prometheus: PrometheusMetrics) -> RuntimeTrial:
        """The trial with its metrics from Prometheus: a succeeded one stays Running until its
        final values are in (or their grace period is over); a failed one is reported as is."""
        name = trial_name(self.job.name, trial.number)
        ref = TrialRef(
            trial.number,
            name,
            self.job.metadata.namespace or "default",
            self.job.name,
            name,  # no pod here: ${trial.pod} is the trial's name
            trial.started,
        )
        result = trial.result
        if result is None:
            return RuntimeTrial(trial.number, Phase.RUNNING, metrics=prometheus.running(ref))
        if result.phase is Phase.SUCCEEDED and not trial.stopped:
            series = prometheus.finished(ref, trial.ended or trial.started)
            if series is None:
                return RuntimeTrial(trial.number, Phase.RUNNING)
            return RuntimeTrial(trial.number, Phase.SUCCEEDED, metrics=series)
        return RuntimeTrial(trial.number, result.phase, result.reason, result.message, metrics=None)

    @property
    def metrics_error(self) -> str | None:
        """Why the metrics source cannot be read right now, if it cannot."""
        return None if self.prometheus is None else self.prometheus.error

    def stop(self, number: int) -> None:
        with self._lock:
            trial = self._trials.get(number)
        if trial is None or not trial.processes or trial.result is not None:
            return
        trial.stopped = True
        for process in trial.processes:
            kill_tree(process)

    def stop_all(self) -> None:
        with self._lock:
            running = [t for t in self._trials.values() if t.result is None and t.processes]
        for trial in running:
            trial.stopped = True
            for process in trial.processes:
                kill_tree(process, grace=2.0)

    def running(self) -> list[int]:
        with self._lock:
            return sorted(n for n, t in self._trials.items() if t.result is None)

    def wait_for_change(self, timeout: float) -> None:
        """Block until a trial ends or ``timeout`` seconds pass."""
        self.changed.wait(timeout)
        self.changed.clear()
