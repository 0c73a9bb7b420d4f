"""The Kubernetes backend: one batch/v1 Job per trial, results read from the pod log.

It sees Jobs and pods through a snapshot of the operator's watch caches (``update``), so
observing costs no API request; it only calls the API to create or delete a Job and, once per
completed trial, to read the primary container's log. With early stopping, it also follows the
log of each running trial's pod (one streaming request per running trial, ``follow``).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kubernetes.client import BatchV1Api, CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kubetune.api.spec import TuningJob
from kubetune.api.status import TrialReason
from kubetune.controller.model import Phase, RuntimeTrial
from kubetune.controller.template import primary_container_name, render_trial_job
from kubetune.metrics.logs import LogMetricsParser, MetricSeries
from kubetune.metrics.prometheus import (
    PrometheusAuth,
    PrometheusClient,
    PrometheusMetrics,
    PrometheusNotConfigured,
    TrialRef,
    prometheus_url,
)
from kubetune.names import trial_name
from kubetune.runtime.kubernetes.follow import RESTART_SECONDS, LogFollower
from kubetune.runtime.kubernetes.observe import (
    JobView,
    PodView,
    primary_pods,
    runtime_trial,
    succeeded_pod,
    with_outcome,
)
from kubetune.trials import ParamValue

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
    # Interruptions of trial pods seen in watch events (the pods may be gone by now), by trial
    # number, then pod uid.
    interruptions: Mapping[int, Mapping[str, str]] = field(default_factory=dict)


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
        self._followers: dict[int, LogFollower] = {}  # running trials' logs, for early stopping
        self.on_metrics: Callable[[], None] | None = None  # a followed trial reported a value
        self.on_retry: Callable[[], None] | None = None  # a Prometheus request is retried
        self._prometheus: PrometheusMetrics | None = None
        self._prometheus_spec: Any = None
        self._prometheus_error: str | None = None  # why it could not be set up
        self._ended: dict[int, float] = {}  # when a trial's workload was first seen finished
        # A read failed transiently in this step (a trial's log, say): the trial stays as it
        # was and the loop wakes again within seconds instead of at the next resync.
        self.retry_soon = False

    def update(self, job: TuningJob, view: ClusterView) -> None:
        """Take the latest spec and watch snapshot before a reconcile step."""
        self.job = job
        self.view = view
        self.retry_soon = False
        for number in list(self._launched):
            if number in view.jobs:
                del self._launched[number]

    @property
    def primary_container(self) -> str:
        return primary_container_name(self.job)

    def observe(self, running: Collection[int]) -> Mapping[int, RuntimeTrial]:
        observed: dict[int, RuntimeTrial] = {}
        primary = self.primary_container
        for number, job in self.view.jobs.items():
            if job.deleting:
                continue
            pods = self.view.pods.get(number, ())
            template = self.job.spec.trial_template
            job = with_outcome(job, template.success_type, template.failure_type)
            trial = runtime_trial(job, pods, primary, self.view.interruptions.get(number))
            if number not in running and not trial.phase.active:
                continue  # recorded already: never read its log again
            if self.job.spec.metrics.source == "prometheus":
                trial = self._from_prometheus(trial, job, pods, number in running)
            elif trial.phase is Phase.SUCCEEDED:
                trial = self._with_metrics(trial, job, pods)
            elif trial.phase is Phase.RUNNING and number in running and self._follows_logs:
                trial = self._followed(trial, job, pods)
            observed[number] = trial
        for number in list(self._followers):
            follower = self._followers[number]
            if number not in running or (not follower.alive and number not in observed):
                follower.stop()
                del self._followers[number]
        for number, launched_at in self._launched.items():
            observed.setdefault(
                number, RuntimeTrial(number, Phase.PENDING, pending_since=launched_at)
            )
        observed.update(self._failed_launches)
        return observed

    @property
    def _follows_logs(self) -> bool:
        spec = self.job.spec
        return spec.early_stopping.algorithm != "none" and spec.metrics.source == "logs"

    @property
    def _primary_pod_labels(self) -> Mapping[str, str]:
        primary = self.job.spec.trial_template.primary_pod
        return primary.labels if primary is not None else {}

    def _followed(self, trial: RuntimeTrial, job: JobView, pods: Sequence[PodView]) -> RuntimeTrial:
        """A running trial with what its (primary pod's) log reported so far."""
        candidates = primary_pods(pods, job, self._primary_pod_labels)
        pod = next((p for p in candidates if p.phase == "Running"), None)
        follower = self._followers.get(trial.number)
        if pod is not None and (
            follower is None
            or (
                follower.pod != pod.name
                or (not follower.alive and time.monotonic() - follower.started > RESTART_SECONDS)
            )
        ):
            if follower is not None:
                follower.stop()
            follower = LogFollower(
                self.core,
                self.namespace,
                pod.name,
                self.primary_container,
                self.job.spec,
                self.on_metrics,
            )
            self._followers[trial.number] = follower
        if follower is None:
            return trial
        return replace(trial, metrics=follower.series())

    @property
    def metrics_error(self) -> str | None:
        """Why the metrics source (Prometheus) cannot be read right now, if it cannot."""
        if self._prometheus_error is not None:
            return self._prometheus_error
        return None if self._prometheus is None else self._prometheus.error

    def _prometheus_metrics(self) -> PrometheusMetrics | None:
        spec = self.job.spec
        if self._prometheus is not None and self._prometheus_spec == spec.metrics:
            return self._prometheus
        source = spec.metrics.prometheus
        assert source is not None  # validation requires it for source prometheus
        try:
            url = prometheus_url(source, None)
            auth = PrometheusAuth(
                self._secret(source.bearer_token_secret),
                self._secret(source.ca_secret),
                source.insecure_skip_verify,
            )
        except (PrometheusNotConfigured, ApiException, KeyError, ValueError) as error:
            self._prometheus_error = _describe_setup_error(error)
            return None
        self._prometheus_error = None
        client = PrometheusClient(url, auth, on_retry=self.on_retry)
        self._prometheus = PrometheusMetrics(spec, client)
        self._prometheus_spec = spec.metrics
        return self._prometheus

    def _secret(self, ref: Any) -> str | None:
        """A key of a Secret in the TuningJob's namespace (bearer token, CA bundle)."""
        if ref is None:
            return None
        secret = self.core.read_namespaced_secret(ref.name, self.namespace)
        data = (secret.data or {})[ref.key]
        return base64.b64decode(data).decode().strip()

    def _from_prometheus(
        self, trial: RuntimeTrial, job: JobView, pods: Sequence[PodView], running: bool
    ) -> RuntimeTrial:
        """The trial with its metrics from Prometheus. A succeeded trial stays Running until
        its final values are in (or the grace period says they never will be)."""
        number = trial.number
        if trial.phase.active:
            self._ended.pop(number, None)
        else:
            self._ended.setdefault(number, time.time())
        if not running or trial.phase is Phase.PENDING or trial.phase is Phase.FAILED:
            return trial
        prometheus = self._prometheus_metrics()
        if prometheus is None:  # not configured: a succeeded trial waits, visibly
            return RuntimeTrial(number, Phase.RUNNING)
        candidates = [p for p in pods if job.owns(p)]
        pod = max(candidates, key=lambda p: p.created or 0.0) if candidates else None
        ref = TrialRef(
            number,
            job.name,
            self.namespace,
            self.job.name,
            pod.name if pod is not None else job.name,
            job.created or time.time(),
        )
        if trial.phase is Phase.RUNNING:
            return RuntimeTrial(number, Phase.RUNNING, metrics=prometheus.running(ref))
        series = prometheus.finished(ref, self._ended[number])
        if series is None:
            return RuntimeTrial(number, Phase.RUNNING)
        return RuntimeTrial(number, Phase.SUCCEEDED, metrics=series)

    def close(self) -> None:
        """Stop following logs (the TuningJob is done or gone)."""
        for follower in self._followers.values():
            follower.stop()
        self._followers.clear()

    def _with_metrics(
        self, trial: RuntimeTrial, job: JobView, pods: Sequence[PodView]
    ) -> RuntimeTrial:
        series = self._metrics.get(job.name)
        if series is None:
            pod = succeeded_pod(
                primary_pods(pods, job, self._primary_pod_labels),
                job.name if job.is_job else None,
            )
            if pod is None:
                # The Job says Complete before the watch has delivered its pod; wait for it.
                return replace(trial, phase=Phase.RUNNING)
            try:
                series = self._read_metrics(pod.name)
            except (HTTPError, OSError) as error:  # the connection broke mid-log
                log.warning("reading the log of %s failed (%s); will retry", pod.name, error)
                self.retry_soon = True
                return RuntimeTrial(trial.number, Phase.RUNNING)
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
                    self.retry_soon = True
                    return replace(trial, phase=Phase.RUNNING)
                raise
            self._metrics[job.name] = series
        return replace(trial, metrics=series)

    def _read_metrics(self, pod: str) -> MetricSeries:
        spec = self.job.spec
        parser = LogMetricsParser(spec.metrics, spec.recorded_metrics)
        # Streamed, not preloaded: a chatty trial's log never sits in memory whole.
        response: Any = self.core.read_namespaced_pod_log(
            pod, self.namespace, container=self.primary_container, _preload_content=False
        )
        try:
            return parser.feed_chunks(response.stream(LOG_CHUNK_BYTES))
        finally:
            response.release_conn()

    def launch(self, number: int, params: Mapping[str, ParamValue]) -> None:
        if number in self._launched:
            return
        previous = self.view.jobs.get(number)
        if previous is not None and previous.deleting:
            return  # a rerun after an interruption: its Job name is free once the old one goes
        body = render_trial_job(self.job, number, params, owner_uid=self.owner_uid)
        try:
            # The generic endpoint takes the manifest as data: the typed V1Job model would
            # reject int quantities (`nvidia.com/gpu: 1`) and drop fields it does not know.
            # Other kinds (trialTemplate.kind) go through the same endpoint.
            template = self.job.spec.trial_template
            group, version = template.group_version
            self.custom.create_namespaced_custom_object(
                group, version, self.namespace, template.plural, body
            )
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
        template = self.job.spec.trial_template
        name = trial_name(self.job.name, number)
        try:
            if template.is_job:
                self.batch.delete_namespaced_job(
                    name, self.namespace, propagation_policy="Background"
                )
            else:
                group, version = template.group_version
                self.custom.delete_namespaced_custom_object(
                    group,
                    version,
                    self.namespace,
                    template.plural,
                    name,
                    propagation_policy="Background",
                )
        except ApiException as error:
            if error.status != NOT_FOUND:
                raise


def _describe_setup_error(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"cannot read the Prometheus credentials Secret: {error.status} {error.reason}"
    if isinstance(error, KeyError):
        return f"the Prometheus credentials Secret has no key {error}"
    return str(error)


def _reason(error: ApiException) -> str:
    import json

    try:
        message: str = json.loads(error.body or "{}").get("message") or ""
    except ValueError:
        message = ""
    return message or f"{error.status} {error.reason}"
