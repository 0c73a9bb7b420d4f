"""Kubernetes API clients for the operator's own calls (kopf has its own connection)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kubernetes import client, config


@dataclass(frozen=True)
class Clients:
    core: client.CoreV1Api
    batch: client.BatchV1Api
    custom: client.CustomObjectsApi


def load_clients(kubeconfig: str | None = None) -> Clients:
    """In-cluster credentials when running in a pod, else the kubeconfig (or $KUBECONFIG)."""
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        api = client.ApiClient()
    else:
        api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    api.user_agent = "kubetune-operator"
    return Clients(client.CoreV1Api(api), client.BatchV1Api(api), client.CustomObjectsApi(api))
