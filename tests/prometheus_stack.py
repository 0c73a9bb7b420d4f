"""A real Prometheus server and Pushgateway on loopback, for the tests that read trial metrics
from Prometheus (Debian's ``prometheus`` and ``prometheus-pushgateway`` packages, which
``tests/run.sh`` installs).

Prometheus scrapes every second: the Pushgateway (``honor_labels``), and whatever targets a test
adds through file-based service discovery (``add_target``), e.g. a trial's own ``/metrics`` or
the operator's. Use the ``prometheus`` fixture (session-scoped): import it into a test module.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

BINARIES = {"prometheus": "prometheus", "pushgateway": "prometheus-pushgateway"}
READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def binary(name: str) -> str:
    found = shutil.which(BINARIES[name]) or shutil.which(BINARIES[name], path="/usr/bin")
    if found is None:
        pytest.fail(
            f"{BINARIES[name]} is not installed. These tests run a real Prometheus and "
            "Pushgateway: run them through `bash tests/run.sh`, which installs Debian's "
            "prometheus and prometheus-pushgateway packages, or `apt-get install -y prometheus "
            "prometheus-pushgateway`.",
            pytrace=False,
        )
    return found


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class PrometheusStack:
    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.port = free_port()
        self.pushgateway_port = free_port()
        self.targets_dir = work_dir / "targets"
        self.targets_dir.mkdir()
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pushgateway(self) -> str:
        return f"127.0.0.1:{self.pushgateway_port}"

    def start(self) -> PrometheusStack:
        prometheus, pushgateway = binary("prometheus"), binary("pushgateway")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": "pushgateway",
                    "honor_labels": True,
                    "static_configs": [{"targets": [self.pushgateway]}],
                },
                {
                    "job_name": "targets",
                    "file_sd_configs": [
                        {"files": [str(self.targets_dir / "*.json")], "refresh_interval": "1s"}
                    ],
                },
            ],
        }
        config_file = self.work_dir / "prometheus.yml"
        config_file.write_text(json.dumps(config))  # JSON is YAML
        self._spawn(
            "pushgateway",
            [pushgateway, f"--web.listen-address={self.pushgateway}", "--log.level=warn"],
        )
        self._spawn(
            "prometheus",
            [
                prometheus,
                f"--config.file={config_file}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--storage.tsdb.path={self.work_dir / 'data'}",
                "--log.level=warn",
            ],
        )
        self._wait(f"http://{self.pushgateway}/-/ready", "pushgateway")
        self._wait(f"{self.url}/-/ready", "prometheus")
        return self

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.work_dir / f"{name}.log").open("wb")
        self.processes.append(
            subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )

    def _wait(self, url: str, name: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not _ready(url):
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{self.log(name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready in {READY_TIMEOUT}s:\n{self.log(name)}")
            time.sleep(0.1)

    def log(self, name: str) -> str:
        path = self.work_dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes:  # their data is a temporary directory: no clean shutdown
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait(timeout=10)

    def add_target(self, name: str, address: str, labels: Mapping[str, str]) -> None:
        """Have Prometheus scrape ``http://address/metrics`` with these target labels; returns
        once it does (service discovery passes updates on every 5s, so this takes a while)."""
        entry = [{"targets": [address], "labels": dict(labels)}]
        temporary = self.targets_dir / f".{name}.tmp"
        temporary.write_text(json.dumps(entry))
        temporary.rename(self.targets_dir / f"{name}.json")
        self.wait_for(f'up{{instance="{address}"}}')  # 0 until the target listens

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as response:
            result: list[dict[str, Any]] = json.load(response)["data"]["result"]
            return result

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"no series for {promql} within {timeout}s")
            time.sleep(0.25)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusStack]:
    stack = PrometheusStack(tmp_path_factory.mktemp("prometheus"))
    try:
        yield stack.start()
    finally:
        stack.stop()
