"""The Kubernetes backend: one batch/v1 Job per trial, results read from the pod log.

It sees Jobs and pods through a snapshot of the operator's watch caches (``update``), so
observing costs no API request; it only calls the API to create or delete a Job and, once per
completed trial, to read the primary container's log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes.client import BatchV1Api, CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from kubetune.api.spec import TuningJob
from kubetune.api.status import TrialReason
from kubetune.controller.model import Phase, RuntimeTrial
from kubetune.controller.naming import trial_name
from kubetune.controller.template import primary_container_index, render_trial_job
from kubetune.metrics.logs import LogMetricsParser, MetricSeries
from kubetune.runtime.kubernetes.observe import JobView, PodView, runtime_trial, succeeded_pod
from kubetune.search.space import ParamValue

log = logging.getLogger(__name__)

CONFLICT = 409
NOT_FOUND = 404
TOO_MANY_REQUESTS = 429
LOG_CHUNK_BYTES = 64 * 1024


def is_transient(error: ApiException) -> bool:
    """Errors worth retrying: throttling, conflicts and server trouble."""
    return error.status in (CONFLICT, TOO_MANY_REQUESTS) or (error.status or 500) >= 500


@dataclass(frozen=True)
class ClusterView:
    """The trial Jobs and pods of one TuningJob, by trial number, as last watched."""

    jobs: Mapping[int, JobView]
    pods: Mapping[int, Sequence[PodView]]


def iter_lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Lines of a streamed log, decoded leniently; the last line may lack a newline."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")


class KubernetesBackend:
    """``Tuner``'s backend for one TuningJob on a cluster."""

    def __init__(
        self,
        job: TuningJob,
        namespace: str,
        owner_uid: str,
        batch: BatchV1Api,
        core: CoreV1Api,
        custom: CustomObjectsApi,
    ) -> None:
        self.job = job
        self.namespace = namespace
        self.owner_uid = owner_uid
        self.batch = batch
        self.core = core
        self.custom = custom
        self.view = ClusterView({}, {})
        self._launched: dict[int, float] = {}  # created by us, not yet seen by the watch
        self._failed_launches: dict[int, RuntimeTrial] = {}
        self._metrics: dict[str, MetricSeries] = {}  # by Job name: each log is read once

    def update(self, job: TuningJob, view: ClusterView) -> None:
        """Take the latest spec and watch snapshot before a reconcile step."""
        self.job = job
        self.view = view
        for number in list(self._launched):
            if number in view.jobs:
                del self._launched[number]

    @property
    def primary_container(self) -> str:
        containers = self.job.spec.trial_template.spec["template"]["spec"]["containers"]
        name: str = containers[primary_container_index(self.job)]["name"]
        return name

    def observe(self, running: Collection[int]) -> Mapping[int, RuntimeTrial]:
        observed: dict[int, RuntimeTrial] = {}
        primary = self.primary_container
        for number, job in self.view.jobs.items():
            if job.deleting:
                continue
            pods = self.view.pods.get(number, ())
            trial = runtime_trial(job, pods, primary)
            if number not in running and not trial.phase.active:
                continue  # recorded already: never read its log again
            if trial.phase is Phase.SUCCEEDED:
                trial = self._with_metrics(trial, job, pods)
            observed[number] = trial
        for number, launched_at in self._launched.items():
            observed.setdefault(
                number, RuntimeTrial(number, Phase.PENDING, pending_since=launched_at)
            )
        observed.update(self._failed_launches)
        return observed

    def _with_metrics(
        self, trial: RuntimeTrial, job: JobView, pods: Sequence[PodView]
    ) -> RuntimeTrial:
        series = self._metrics.get(job.name)
        if series is None:
            pod = succeeded_pod(pods, job.name)
            if pod is None:
                # The Job says Complete before the watch has delivered its pod; wait for it.
                return RuntimeTrial(trial.number, Phase.RUNNING)
            try:
                series = self._read_metrics(pod.name)
            except ApiException as error:
                if error.status == NOT_FOUND:
                    return RuntimeTrial(
                        trial.number,
                        Phase.FAILED,
                        TrialReason.METRICS_UNAVAILABLE,
                        f"the log of pod {pod.name} is gone",
                    )
                if is_transient(error):
                    log.warning(
                        "reading the log of %s failed (%s); will retry", pod.name, error.status
                    )
                    return RuntimeTrial(trial.number, Phase.RUNNING)
                raise
            self._metrics[job.name] = series
        return RuntimeTrial(trial.number, Phase.SUCCEEDED, metrics=series)

    def _read_metrics(self, pod: str) -> MetricSeries:
        spec = self.job.spec
        parser = LogMetricsParser(spec.metrics, spec.objective.metric_names)
        # Streamed, not preloaded: a chatty trial's log never sits in memory whole.
        response: Any = self.core.read_namespaced_pod_log(
            pod, self.namespace, container=self.primary_container, _preload_content=False
        )
        try:
            parser.feed_lines(iter_lines(response.stream(LOG_CHUNK_BYTES)))
        finally:
            response.release_conn()
        return parser.series

    def launch(self, number: int, params: Mapping[str, ParamValue]) -> None:
        if number in self._launched:
            return
        body = render_trial_job(self.job, number, params, owner_uid=self.owner_uid)
        try:
            # The generic endpoint takes the manifest as data: the typed V1Job model would
            # reject int quantities (`nvidia.com/gpu: 1`) and drop fields it does not know.
            self.custom.create_namespaced_custom_object("batch", "v1", self.namespace, "jobs", body)
        except ApiException as error:
            if error.status == CONFLICT:  # AlreadyExists: launched before a restart
                pass
            elif is_transient(error):
                raise
            else:
                self._failed_launches[number] = RuntimeTrial(
                    number,
                    Phase.FAILED,
                    TrialReason.LAUNCH_FAILED,
                    f"the API server refused Job {body['metadata']['name']}: {_reason(error)}",
                )
                return
        self._launched[number] = time.time()

    def stop(self, number: int) -> None:
        self._launched.pop(number, None)
        self._failed_launches.pop(number, None)
        try:
            self.batch.delete_namespaced_job(
                trial_name(self.job.name, number), self.namespace, propagation_policy="Background"
            )
        except ApiException as error:
            if error.status != NOT_FOUND:
                raise


def _reason(error: ApiException) -> str:
    import json

    try:
        message: str = json.loads(error.body or "{}").get("message") or ""
    except ValueError:
        message = ""
    return message or f"{error.status} {error.reason}"
