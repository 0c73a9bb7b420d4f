"""A real Prometheus server and Pushgateway on loopback, for the tests that read trial metrics
from Prometheus (Debian's ``prometheus`` and ``prometheus-pushgateway`` packages, which
``tests/run.sh`` installs).

Prometheus scrapes every second: the Pushgateway (``honor_labels``), and whatever targets a test
adds through file-based service discovery (``add_target``/``remove_target``), e.g. a trial's own
``/metrics`` or the operator's.

The ``prometheus`` fixture (session-scoped, from ``tests/conftest.py``) is one stack shared by
every test of a session (of a pytest-xdist worker), so each test keeps to its own data: it names
its TuningJobs with ``prometheus_names`` (unique in the session), and the scrape targets it adds
after them; when the test ends, those targets and the Pushgateway groups of its trials go.

A trial serving ``/metrics`` (``curve_trial.py --serve --gate-dir``) binds a port of its own
choosing and waits for the test at two gates: see ``PrometheusStack.scrape_gated_trial``.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import pytest

from tests.net import free_port

BINARIES = {"prometheus": "prometheus", "pushgateway": "prometheus-pushgateway"}
READY_TIMEOUT = 30.0
GATE_TIMEOUT = 60.0  # how long scrape_gated_trial waits for a trial to get to a gate


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
        self._logs: list[IO[bytes]] = []
        self._serial = itertools.count(1)

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
        self._logs.append(log)
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
        for log in self._logs:
            log.close()

    def add_target(self, name: str, address: str, labels: Mapping[str, str]) -> None:
        """Have Prometheus scrape ``http://address/metrics`` with these target labels; returns
        once it does (service discovery passes updates on every 5s, so this takes a while).
        ``name`` names the target for ``remove_target``: unique in the session."""
        entry = [{"targets": [address], "labels": dict(labels)}]
        temporary = self.targets_dir / f".{name}.tmp"
        temporary.write_text(json.dumps(entry))
        temporary.rename(self.targets_dir / f"{name}.json")
        self.wait_for(f'up{{instance="{address}"}}')  # 0 until the target listens

    def remove_target(self, name: str) -> None:
        """Stop scraping the target ``add_target`` called ``name`` (Prometheus notices within
        seconds; what it scraped stays queryable). Nothing happens if there is none."""
        (self.targets_dir / f"{name}.json").unlink(missing_ok=True)

    def unique_name(self, base: str) -> str:
        """``base-N``, a name no other test of the session gets: for a TuningJob whose trials
        (``base-N-0``, ...) push to the Pushgateway or are scraped."""
        return f"{base}-{next(self._serial)}"

    def groups(self) -> list[dict[str, str]]:
        """The grouping labels (``job`` and the grouping key) of every Pushgateway group."""
        url = f"http://{self.pushgateway}/api/v1/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return [dict(group["labels"]) for group in json.load(response)["data"]]

    def forget(self, name: str) -> None:
        """Remove the targets named ``name`` or ``name-...`` and delete the Pushgateway groups
        of the TuningJob ``name``'s trials."""
        for path in self.targets_dir.glob("*.json"):
            if path.stem == name or path.stem.startswith(f"{name}-"):
                self.remove_target(path.stem)
        self.delete_groups(name)

    def delete_groups(self, name: str) -> None:
        """Delete the Pushgateway groups of the TuningJob ``name``'s trials: those with a
        grouping label whose value is ``name`` or starts with ``name-``."""
        for labels in self.groups():
            if not any(v == name or v.startswith(f"{name}-") for v in labels.values()):
                continue
            job = labels.pop("job")
            path = "/metrics/job/" + urllib.parse.quote(job, safe="")
            for key, value in labels.items():
                path += f"/{urllib.parse.quote(key, safe='')}/{urllib.parse.quote(value, safe='')}"
            request = urllib.request.Request(f"http://{self.pushgateway}{path}", method="DELETE")
            with urllib.request.urlopen(request, timeout=5):
                pass

    def scrape_gated_trial(
        self, gates: Path, trial: str, labels: Mapping[str, str], timeout: float = GATE_TIMEOUT
    ) -> None:
        """The test's half of ``curve_trial.py --serve --gate-dir=gates`` for the trial named
        ``trial``; call it while the trial runs (it returns once the trial may exit).

        The trial binds a port of its own (no other process can take it in between) and
        announces it in ``gates/<trial>.port``; this has Prometheus scrape it with ``labels`` (a
        target named ``trial``, which ``forget`` removes) and, once Prometheus does, opens
        ``<trial>.start`` for the trial to report its curve, so that every step is scraped. The
        trial then writes its final value to ``<trial>.final``; once Prometheus holds it, this
        opens ``<trial>.done`` and the trial exits. Both gates open, whatever happens here."""
        try:
            port = int(_read_when_there(gates / f"{trial}.port", timeout))
            address = f"127.0.0.1:{port}"
            self.add_target(trial, address, labels)
            self.wait_for(f'up{{instance="{address}"}} == 1', timeout)
            (gates / f"{trial}.start").touch()
            final = float(_read_when_there(gates / f"{trial}.final", timeout))
            self.wait_for(f'trial_loss{{instance="{address}"}} == {final!r}', timeout)
        finally:
            (gates / f"{trial}.start").touch()
            (gates / f"{trial}.done").touch()

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


def _read_when_there(path: Path, timeout: float) -> str:
    """The text of ``path``, once a trial has put it there (by renaming: never half written)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {path.name} within {timeout}s")
        time.sleep(0.05)
    return path.read_text()


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusStack]:
    stack = PrometheusStack(tmp_path_factory.mktemp("prometheus"))
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture
def prometheus_names(prometheus: PrometheusStack) -> Iterator[Callable[[str], str]]:
    """``prometheus_names("base")``: a TuningJob name unique in the session's Prometheus
    (``PrometheusStack.unique_name``). When the test ends, the scrape targets named after it
    (``name``, ``name-0``, ...) and its trials' Pushgateway groups go (``forget``)."""
    issued: list[str] = []

    def issue(base: str) -> str:
        issued.append(prometheus.unique_name(base))
        return issued[-1]

    yield issue
    for name in issued:
        prometheus.forget(name)
