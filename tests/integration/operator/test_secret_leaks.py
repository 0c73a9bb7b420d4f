"""A planted Prometheus bearer token never leaks: not in the TuningJob's status, its Events,
the operator's log, the study journal (ConfigMaps) or the trial Jobs. A multi-line value (a
TLS key used as a token by mistake) is refused before any request is made; a single-line one
is sent only to the Prometheus the TuningJob names, which here echoes it back in its error."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .harness import Cluster, OperatorProcess, eventually, tuningjob

KEY_LINES = [f"MII{secrets.token_hex(24)}" for _ in range(3)]
MULTI_LINE = (
    "-----BEGIN PRIVATE KEY-----\n" + "\n".join(KEY_LINES) + "\n-----END PRIVATE KEY-----\n"
)
SINGLE_LINE = f"tok-{secrets.token_hex(24)}"


class EchoingPrometheus:
    """Answers every query with a 500 whose error text quotes the Authorization it got."""

    def __init__(self) -> None:
        self.authorizations: list[str] = []
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                authorization = self.headers.get("Authorization") or ""
                echo.authorizations.append(authorization)
                body = json.dumps({"status": "error", "error": f"rejected {authorization}"})
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture(scope="module")
def prometheus() -> Iterator[EchoingPrometheus]:
    server = EchoingPrometheus()
    yield server
    server.server.shutdown()
    server.server.server_close()


def planted(cluster: Cluster, name: str, value: str, url: str) -> dict[str, Any]:
    cluster.core.create_namespaced_secret(
        "default",
        {
            "metadata": {"name": name},
            "type": "kubernetes.io/tls",
            "data": {
                "tls.key": base64.b64encode(value.encode()).decode(),
                "tls.crt": base64.b64encode(b"not a certificate").decode(),
            },
        },
    )
    manifest = tuningjob(name, max_trials=1, parallel=1)
    manifest["spec"]["metrics"] = {
        "source": "prometheus",
        "prometheus": {
            "url": url,
            "interval": "1s",
            "bearerTokenSecret": {"name": name, "key": "tls.key"},
            "queries": [
                {"metric": "loss", "query": "loss"},
                {"metric": "accuracy", "query": "accuracy"},
            ],
        },
    }
    cluster.apply(manifest)
    return manifest


def unavailable(cluster: Cluster, name: str) -> dict[str, Any] | None:
    item = cluster.any_condition(name, "MetricsSourceAvailable")
    return item if item is not None and item["status"] == "False" else None


def everything_written(cluster: Cluster, operator: OperatorProcess, name: str) -> dict[str, str]:
    configmaps = cluster.core.list_namespaced_config_map(
        "default", label_selector=f"kubetune.io/tuningjob={name}"
    )
    return {
        "status": json.dumps(cluster.tuningjob(name)),
        "events": json.dumps([e.to_dict() for e in cluster.events(name)], default=str),
        "operator log": operator.log_file.read_text(errors="replace"),
        "journal": json.dumps([c.to_dict() for c in configmaps.items], default=str),
        "jobs": json.dumps(cluster.jobs(name)),
    }


def assert_nowhere(places: dict[str, str], *secret: str) -> None:
    for where, text in places.items():
        for piece in secret:
            assert piece not in text, f"the planted secret leaked into the {where}"


def test_a_multi_line_token_is_refused_before_any_request(
    cluster: Cluster, operator: OperatorProcess, prometheus: EchoingPrometheus
) -> None:
    planted(cluster, "multi-line", MULTI_LINE, prometheus.url)
    condition = eventually(lambda: unavailable(cluster, "multi-line"), timeout=90)
    assert "contains a line break" in condition["message"]
    assert "store a single-line token" in condition["message"]
    assert not any(KEY_LINES[0] in a for a in prometheus.authorizations)
    assert_nowhere(everything_written(cluster, operator, "multi-line"), *KEY_LINES)


def test_a_token_echoed_back_by_prometheus_is_redacted(
    cluster: Cluster, operator: OperatorProcess, prometheus: EchoingPrometheus
) -> None:
    planted(cluster, "single-line", SINGLE_LINE, prometheus.url)
    condition = eventually(lambda: unavailable(cluster, "single-line"), timeout=90)
    assert f"Bearer {SINGLE_LINE}" in prometheus.authorizations  # sent where it was meant to go
    assert "rejected Bearer [redacted]" in condition["message"]
    assert_nowhere(everything_written(cluster, operator, "single-line"), SINGLE_LINE)
