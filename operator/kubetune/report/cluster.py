"""A TuningJob on a cluster, reached through a kubeconfig the way kubectl reaches it, and its
study journal read without ever writing to it."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import BaseJournalBackend

from kubetune.api.errors import SpecError
from kubetune.api.loading import parse_tuningjob
from kubetune.api.spec import TuningJob
from kubetune.names import API_GROUP, API_VERSION, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION
from kubetune.runtime.kubernetes.journal import ConfigMapJournalBackend, StudyJournalError

# What kubectl accepts before the slash (kind, plural, short name, with or without the group).
RESOURCE_WORDS = frozenset(
    word
    for name in (SINGULAR, PLURAL, *SHORT_NAMES)
    for word in (name, f"{name}.{API_GROUP}", f"{name}.{VERSION}.{API_GROUP}")
)


USER_AGENT = "kubectl-tune"  # not "kubetune...": that is the operator's


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kubetune")
    except PackageNotFoundError:
        return "dev"


class ClusterError(RuntimeError):
    """The cluster cannot be reached, or the TuningJob or its study is not there."""


class ReadOnlyStudyError(RuntimeError):
    """Something tried to write to a study opened read-only."""


def tuningjob_name(source: str) -> str | None:
    """``NAME`` of ``tuningjob/NAME`` (or ``tj/NAME``, ``tuningjobs.kubetune.io/NAME``); None
    for anything else (a local manifest or run directory)."""
    word, slash, name = source.partition("/")
    if slash and word.lower() in RESOURCE_WORDS and name and "/" not in name:
        return name
    return None


@dataclass(frozen=True)
class Connection:
    """An API client for one kubeconfig context, and the namespace commands default to."""

    api_client: Any
    namespace: str

    @property
    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api_client)

    @property
    def custom(self) -> Any:
        from kubernetes import client

        return client.CustomObjectsApi(self.api_client)

    @property
    def batch(self) -> Any:
        from kubernetes import client

        return client.BatchV1Api(self.api_client)


def connect(
    kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None
) -> Connection:
    """Like kubectl: ``kubeconfig`` or $KUBECONFIG or ~/.kube/config, ``context`` or the current
    one; the namespace is ``namespace``, else the context's, else ``default``."""
    from kubernetes import config

    try:
        contexts, current = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=kubeconfig
        )
        api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context
        )
    except (config.ConfigException, OSError, ValueError) as error:
        raise ClusterError(f"cannot use the kubeconfig: {error}") from None
    # Who reads, in the API server's audit log: kubetune's CLI, not the operator.
    api_client.user_agent = f"{USER_AGENT}/{_version()}"
    if namespace is None:
        chosen = next((c for c in contexts if c["name"] == context), None) if context else current
        namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
    return Connection(api_client, namespace)


def _api_error(error: Exception, what: str) -> ClusterError:
    status = getattr(error, "status", None)
    if status == 404:
        return ClusterError(f"{what} not found")
    if status in (401, 403):
        return ClusterError(f"not allowed to read {what} ({status})")
    reason = getattr(error, "reason", None) or error
    return ClusterError(f"cannot read {what}: {reason}")


def get_tuningjob(connection: Connection, name: str) -> dict[str, Any]:
    """The TuningJob object as the API server holds it (spec and status)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    what = f"TuningJob {name} in namespace {connection.namespace}"
    try:
        obj: dict[str, Any] = connection.custom.get_namespaced_custom_object(
            API_GROUP, VERSION, connection.namespace, PLURAL, name
        )
    except (ApiException, HTTPError) as error:
        raise _api_error(error, what) from None
    return obj


def list_tuningjobs(connection: Connection, all_namespaces: bool = False) -> list[dict[str, Any]]:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        if all_namespaces:
            listed = connection.custom.list_cluster_custom_object(API_GROUP, VERSION, PLURAL)
        else:
            listed = connection.custom.list_namespaced_custom_object(
                API_GROUP, VERSION, connection.namespace, PLURAL
            )
    except (ApiException, HTTPError) as error:
        raise _api_error(error, f"TuningJobs in namespace {connection.namespace}") from None
    return list(listed.get("items") or [])


def job_of(obj: dict[str, Any]) -> TuningJob:
    """The typed TuningJob of a cluster object (its status left out)."""
    metadata = obj.get("metadata") or {}
    manifest = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": metadata.get("name"), "namespace": metadata.get("namespace")},
        "spec": obj.get("spec"),
    }
    try:
        return parse_tuningjob(manifest)
    except SpecError as error:
        problems = "; ".join(str(e) for e in error.errors)
        name = metadata.get("name")
        raise ClusterError(f"TuningJob {name} has an invalid spec: {problems}") from None


class ReadOnlyJournalBackend(BaseJournalBackend):
    """A TuningJob's journal ConfigMaps, only read (lists and gets; never a write).

    With ``refresh_seconds`` the chunks are listed again when the last read is older than
    that, so a long-lived reader (the dashboard) sees trials finish; without, they are read
    once. Writes raise :class:`ReadOnlyStudyError`.
    """

    def __init__(
        self, api: Any, tuningjob: str, namespace: str, uid: str, refresh_seconds: float | None
    ) -> None:
        self._open = partial(ConfigMapJournalBackend, api, tuningjob, namespace, uid)
        self._refresh = refresh_seconds
        self._reader: ConfigMapJournalBackend | None = None
        self._read_at = 0.0

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        now = time.monotonic()
        stale = self._refresh is not None and now - self._read_at >= self._refresh
        if self._reader is None or stale:
            self._reader = self._open()  # a fresh reader lists the chunks again
            self._read_at = now
        return self._reader.read_logs(log_number_from)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        raise ReadOnlyStudyError("the cluster study is opened read-only")


def open_cluster_storage(
    connection: Connection, obj: dict[str, Any], refresh_seconds: float | None = None
) -> JournalStorage:
    """The study storage of the TuningJob ``obj``, read-only."""
    metadata = obj["metadata"]
    backend = ReadOnlyJournalBackend(
        connection.core,
        metadata["name"],
        metadata.get("namespace") or connection.namespace,
        metadata.get("uid") or "",
        refresh_seconds,
    )
    return JournalStorage(backend)


def load_cluster_study(connection: Connection, obj: dict[str, Any]) -> optuna.Study:
    """The TuningJob's Optuna study, read once from its journal ConfigMaps."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    name = obj["metadata"]["name"]
    try:
        storage = open_cluster_storage(connection, obj)
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise ClusterError(f"TuningJob {name} has no study yet (no trial was started)") from None
    except (ApiException, HTTPError) as error:
        raise _api_error(error, f"the study journal of TuningJob {name}") from None
    except StudyJournalError as error:
        raise ClusterError(str(error)) from None
