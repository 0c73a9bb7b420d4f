"""A per-module kubesim API server (no controllers); the official-client fixtures come from
tests/kubesim/fixtures.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.kubesim.harness import KubeSim

CRD_GROUP = "kubesim.example.io"


@pytest.fixture(scope="module")
def sim(kubesim_api: KubeSim) -> KubeSim:
    return kubesim_api


def widget_crd(
    scope: str = "Namespaced",
    status_subresource: bool = True,
    plural: str = "widgets",
    kind: str = "Widget",
) -> dict[str, Any]:
    """A test CRD exercising validation, defaulting, pruning and printer columns."""
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "additionalPrinterColumns": [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {
                "name": "Ready",
                "type": "string",
                "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
            },
            {"name": "Done", "type": "integer", "jsonPath": ".status.trials.succeeded"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "description": "A widget used by kubesim's tests.",
                "properties": {
                    "spec": {
                        "type": "object",
                        "description": "Desired state of the widget.",
                        "required": ["size"],
                        "properties": {
                            "size": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 10,
                                "description": "How big the widget is.",
                            },
                            "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                            "name": {
                                "type": "string",
                                "minLength": 2,
                                "maxLength": 8,
                                "pattern": "^[a-z]+$",
                            },
                            "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                            "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                            "port": {"x-kubernetes-int-or-string": True},
                            "limits": {
                                "type": "object",
                                "description": "Budget of the widget.",
                                "default": {},
                                "properties": {
                                    "maxTrials": {
                                        "type": "integer",
                                        "minimum": 1,
                                        "default": 5,
                                        "description": "Most trials to run.",
                                    },
                                },
                            },
                            "extra": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    },
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
    if status_subresource:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{CRD_GROUP}"},
        "spec": {
            "group": CRD_GROUP,
            "scope": scope,
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "shortNames": [kind.lower()[:2] + "x"],
                "categories": ["kubesim"],
            },
            "versions": [version],
        },
    }


@pytest.fixture(scope="module")
def widgets(apiext: client.ApiextensionsV1Api) -> str:
    """The Widget CRD registered once per module; returns its plural."""
    try:
        apiext.create_custom_resource_definition(widget_crd())
    except client.ApiException as exc:
        if exc.status != 409:  # a kubectl test may have applied it already
            raise
    return "widgets"


@pytest.fixture(scope="module")
def kubectl(
    sim: KubeSim,
    kube_binaries: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real kubectl against this module's emulator (own discovery cache dir)."""
    cache = tmp_path_factory.mktemp("kubectl-cache")

    def run(
        *args: str, check: bool = True, input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            str(kube_binaries["kubectl"]),
            "--kubeconfig",
            str(sim.kubeconfig),
            "--cache-dir",
            str(cache),
            *args,
        ]
        result = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    return run


Raw = Callable[..., tuple[int, Any]]


@pytest.fixture(scope="module")
def raw(sim: KubeSim) -> Raw:
    """Plain HTTP to the emulator for what typed clients cannot express:
    ``raw(method, path, body=None, content_type=..., accept=..., query=...) -> (status, body)``."""
    import urllib.error
    import urllib.parse
    import urllib.request

    def call(
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        url = sim.url + path + (("?" + urllib.parse.urlencode(query)) if query else "")
        data = None
        if body is not None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
        request = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={"Content-Type": content_type, "Accept": accept, "User-Agent": "kubesim-tests"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload.decode()

    return call
