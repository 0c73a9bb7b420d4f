"""Kubernetes API clients for the operator's own calls (kopf has its own connection)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class Clients:
    core: client.CoreV1Api
    batch: client.BatchV1Api
    custom: client.CustomObjectsApi


def load_clients(kubeconfig: str | None = None) -> Clients:
    """In-cluster credentials when running in a pod, else the kubeconfig (or $KUBECONFIG)."""
    api = api_client(kubeconfig)
    return Clients(client.CoreV1Api(api), client.BatchV1Api(api), client.CustomObjectsApi(api))


def api_client(kubeconfig: str | None = None, user_agent: str = "kubetune-operator") -> Any:
    """A new API client (its own connection pool)."""
    if kubeconfig is None and in_cluster():
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        api = client.ApiClient()
    else:
        api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    api.user_agent = user_agent
    return api


def in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def own_namespace(kubeconfig: str | None = None) -> str:
    """Where the operator's Lease lives: $POD_NAMESPACE (the chart sets it), the service
    account's namespace in a pod, else the kubeconfig context's namespace, else default."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    if in_cluster() and kubeconfig is None:
        with contextlib.suppress(OSError):
            return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    with contextlib.suppress(config.ConfigException, KeyError, TypeError):
        _, context = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        namespace = context["context"].get("namespace")
        if namespace:
            return str(namespace)
    return "default"
