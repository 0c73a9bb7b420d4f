"""Turning a container spec into a local process: argv, environment, working dir, limits.

The emulated "container runtime" ignores images and runs ``command + args`` directly on this
machine. What it keeps from Kubernetes is everything a trial script can observe:

* ``$(VAR)`` expansion in command/args and env values, with ``$$`` escaping, undefined
  references left verbatim (``k8s.io/kubernetes/third_party/forked/golang/expansion``);
* ``env`` values and ``valueFrom`` (fieldRef, resourceFieldRef, configMapKeyRef,
  secretKeyRef) and ``envFrom`` (configMapRef, secretRef, with prefix), with ``optional``;
* a missing ConfigMap/Secret blocks the container (``CreateContainerConfigError``) like kubelet;
* ``resources.limits.memory`` becomes a per-process ``RLIMIT_DATA`` (see :func:`launch_argv`).

The inherited environment is deliberately minimal (PATH, HOME, PYTHONPATH, VIRTUAL_ENV, LANG...)
so a trial cannot accidentally depend on the test runner's environment. ``python``/``python3``
as ``command[0]`` means the interpreter running the emulator (the venv with the trial's
packages), and that interpreter's directory leads PATH so ``sh -c "python ..."`` agrees.
``PYTHONUNBUFFERED=1`` is set by default (a container may override it) so ``kubectl logs -f``
follows a Python trial live instead of in 8 KiB bursts.
"""

from __future__ import annotations

import base64
import ctypes
import functools
import os
import re
import resource
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from math import ceil
from pathlib import Path
from typing import Any

from .quantities import QuantityError, parse_quantity

INHERITED_ENV = ("PATH", "HOME", "PYTHONPATH", "VIRTUAL_ENV", "LANG", "LC_ALL", "TMPDIR", "TZ")
# OpenBLAS needs these on some CPUs of this workplace (numpy crashes or miscomputes without).
INHERITED_PREFIXES = ("OPENBLAS_",)
_PYTHON_RE = re.compile(r"^python(3(\.\d+)?)?$")
_PR_SET_PDEATHSIG = 1

Obj = Mapping[str, Any]
# fetch(kind, namespace, name) -> the object, or None if it does not exist.
Fetch = Callable[[str, str, str], Awaitable[Obj | None]]


class ContainerConfigError(Exception):
    """The container cannot be configured yet (missing ConfigMap/Secret or key)."""


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: ``$$`` is a literal ``$``; unknown vars stay as-is."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char != "$" or i + 1 >= n:
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end == -1:
                out.append(text[i:])
                break
            name = text[i + 2 : end]
            out.append(mapping.get(name, f"$({name})"))
            i = end + 1
        else:
            out.append(char + nxt)
            i += 2
    return "".join(out)


def base_environment(hostname: str) -> dict[str, str]:
    """The minimal environment every container starts from."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key in INHERITED_ENV or key.startswith(INHERITED_PREFIXES)
    }
    python_dir = str(Path(sys.executable).parent)
    path = env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    if python_dir not in path.split(os.pathsep):
        path = python_dir + os.pathsep + path
    env["PATH"] = path
    env.setdefault("HOME", "/root")
    env["HOSTNAME"] = hostname
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _field_value(path: str, pod: Obj) -> str:
    meta = pod.get("metadata", {})
    spec = pod.get("spec", {})
    status = pod.get("status", {})
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
        "status.podIP": status.get("podIP") or "127.0.0.1",
        "status.hostIP": status.get("hostIP") or "127.0.0.1",
        "status.podIPs": status.get("podIP") or "127.0.0.1",
        "status.hostIPs": status.get("hostIP") or "127.0.0.1",
    }
    if path in simple:
        return str(simple[path] or "")
    match = re.fullmatch(r"metadata\.(labels|annotations)(?:\['(.+)'\])?", path)
    if match:
        values = meta.get(match[1]) or {}
        if match[2] is not None:
            return str(values.get(match[2], ""))
        # Without a key, the downward API renders all pairs one per line, sorted.
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
    raise ContainerConfigError(f"unsupported fieldRef fieldPath {path!r}")


def _resource_value(ref: Obj, container: Obj) -> str:
    resource_name = ref.get("resource", "")
    section, _, name = resource_name.partition(".")
    resources = container.get("resources") or {}
    raw = (resources.get(section) or {}).get(name)
    if raw is None and section == "requests":
        raw = (resources.get("limits") or {}).get(name)
    if raw is None:
        # Kubernetes falls back to node allocatable; we have no better number than "0".
        return "0"
    try:
        divisor = parse_quantity(ref.get("divisor") or "1") or Fraction(1)
        return str(ceil(parse_quantity(raw) / divisor))
    except QuantityError as error:
        raise ContainerConfigError(str(error)) from error


def _decode(kind: str, obj: Obj) -> dict[str, str]:
    """The string data of a ConfigMap or (base64-decoded) Secret."""
    data: dict[str, str] = {}
    if kind == "secrets":
        for key, value in (obj.get("data") or {}).items():
            data[key] = base64.b64decode(value).decode("utf-8", "replace")
        data.update(obj.get("stringData") or {})
    else:
        data.update(obj.get("data") or {})
        for key, value in (obj.get("binaryData") or {}).items():
            data[key] = base64.b64decode(value).decode("utf-8", "replace")
    return data


async def _key_ref(kind: str, ref: Obj, namespace: str, fetch: Fetch) -> str | None:
    label = "configmap" if kind == "configmaps" else "secret"
    obj = await fetch(kind, namespace, ref.get("name", ""))
    optional = bool(ref.get("optional"))
    if obj is None:
        if optional:
            return None
        raise ContainerConfigError(f'{label} "{ref.get("name", "")}" not found')
    data = _decode(kind, obj)
    key = ref.get("key", "")
    if key not in data:
        if optional:
            return None
        raise ContainerConfigError(
            f"couldn't find key {key} in {'ConfigMap' if kind == 'configmaps' else 'Secret'} "
            f"{namespace}/{ref.get('name', '')}"
        )
    return data[key]


async def container_environment(
    container: Obj, pod: Obj, fetch: Fetch
) -> tuple[dict[str, str], dict[str, str]]:
    """Resolve ``envFrom`` then ``env`` (later entries win), expanding ``$(VAR)`` in values.

    Returns ``(declared, full)``: the container's own variables (what ``$(VAR)`` in command and
    args may reference) and the complete process environment (declared over the base one).
    """
    namespace = pod.get("metadata", {}).get("namespace", "default")
    declared: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, ref in (
            ("configmaps", source.get("configMapRef")),
            ("secrets", source.get("secretRef")),
        ):
            if not ref:
                continue
            obj = await fetch(kind, namespace, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                label = "configmap" if kind == "configmaps" else "secret"
                raise ContainerConfigError(f'{label} "{ref.get("name", "")}" not found')
            for key, data in _decode(kind, obj).items():
                declared[prefix + key] = data
    for var in container.get("env") or []:
        name = var.get("name", "")
        if "value" in var or not var.get("valueFrom"):
            declared[name] = expand(str(var.get("value", "") or ""), declared)
            continue
        source = var["valueFrom"]
        value: str | None
        if "fieldRef" in source:
            value = _field_value(source["fieldRef"].get("fieldPath", ""), pod)
        elif "resourceFieldRef" in source:
            value = _resource_value(source["resourceFieldRef"], container)
        elif "configMapKeyRef" in source:
            value = await _key_ref("configmaps", source["configMapKeyRef"], namespace, fetch)
        elif "secretKeyRef" in source:
            value = await _key_ref("secrets", source["secretKeyRef"], namespace, fetch)
        else:
            value = ""
        if value is not None:
            declared[name] = value
    # The container's hostname: spec.hostname if set (Indexed Jobs set <job>-<index>), else
    # the pod's name, as the kubelet does.
    hostname = pod.get("spec", {}).get("hostname") or pod.get("metadata", {}).get("name", "")
    full = base_environment(hostname)
    full.update(declared)
    return declared, full


def command_line(container: Obj, declared: Mapping[str, str], path: str) -> list[str]:
    """``command + args`` after ``$(VAR)`` expansion, with ``argv[0]`` resolved on ``path``.

    Images are ignored, so a container without ``command`` runs its ``args`` as the command.
    Raises :class:`FileNotFoundError` with the container runtime's message if nothing can run.
    """
    command = [expand(str(part), declared) for part in container.get("command") or []]
    args = [expand(str(part), declared) for part in container.get("args") or []]
    argv = command + args
    if not argv:
        raise FileNotFoundError("no command specified (kubesim ignores images' entrypoints)")
    if _PYTHON_RE.match(argv[0]):
        argv[0] = sys.executable
    elif "/" not in argv[0]:
        found = shutil.which(argv[0], path=path)
        if found is None:
            raise FileNotFoundError(f'exec: "{argv[0]}": executable file not found in $PATH')
        argv[0] = found
    elif not os.access(argv[0], os.X_OK):
        raise FileNotFoundError(f'exec: "{argv[0]}": stat {argv[0]}: no such file or directory')
    return argv


def working_dir(container: Obj, default: Path) -> Path:
    """The container's ``workingDir`` if it exists here, else the emulator's cwd."""
    wanted = container.get("workingDir")
    if wanted and Path(wanted).is_dir():
        return Path(wanted)
    return default


def memory_limit_bytes(container: Obj) -> int | None:
    """``resources.limits.memory`` in bytes, if set and parseable."""
    raw = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    if raw is None:
        return None
    try:
        return int(parse_quantity(raw))
    except QuantityError:
        return None


@functools.cache
def _util_linux(tool: str) -> str | None:
    return shutil.which(tool, path="/usr/bin:/bin:/usr/sbin:/sbin")


def launch_argv(
    argv: list[str], memory_limit: int | None
) -> tuple[list[str], Callable[[], None] | None]:
    """Wrap ``argv`` so the container dies with the emulator and obeys its memory limit.

    Returns ``(argv, preexec_fn)``. util-linux's ``setpriv --pdeathsig KILL`` makes the
    container's main process die if the emulator is SIGKILLed (the signal survives the
    following execs), and ``prlimit --data`` applies the memory limit; both exec straight into
    the next program. Doing the same in a Python ``preexec_fn`` would force ``fork`` instead of
    ``vfork`` and block the event loop (API server included) ~15 ms per container start,
    measured; the wrappers cost ~1 ms. Without util-linux, fall back to :class:`ChildSetup`.

    The memory limit is ``RLIMIT_DATA`` (heap and private writable mappings), not
    ``RLIMIT_AS``: measured here, ``RLIMIT_AS`` at 128Mi makes ``import numpy`` spin forever at
    100% CPU (OpenBLAS reserves address space for its thread buffers and retries), while
    ``RLIMIT_DATA`` lets imports work and makes a real over-allocation fail with
    ``MemoryError``. It is per process (not per container tree like a cgroup), and the kubelet
    reports ``OOMKilled`` by looking at how the process died (see ``kubelet``).
    """
    setpriv, prlimit = _util_linux("setpriv"), _util_linux("prlimit")
    prefix: list[str] = []
    fallback = ChildSetup()
    if setpriv:
        prefix += [setpriv, "--pdeathsig", "KILL", "--"]
    else:
        fallback.death_signal = True
    if memory_limit is not None:
        if prlimit:
            prefix += [prlimit, f"--data={memory_limit}:{memory_limit}", "--"]
        else:
            fallback.memory_limit = memory_limit
    needs_fallback = fallback.death_signal or fallback.memory_limit is not None
    return prefix + argv, fallback if needs_fallback else None


@dataclass
class ChildSetup:
    """The slow path of :func:`launch_argv` when util-linux is missing: a ``preexec_fn``."""

    memory_limit: int | None = None
    death_signal: bool = False

    def __call__(self) -> None:
        if self.death_signal:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            except OSError:
                pass
        if self.memory_limit is not None:
            resource.setrlimit(resource.RLIMIT_DATA, (self.memory_limit, self.memory_limit))
