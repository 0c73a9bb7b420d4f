# syntax=docker/dockerfile:1
# The kubetune operator image.
#
#   docker build -t ghcr.io/kubetune/kubetune:0.1.0 .
#
# Two stages: the first builds the wheel and a virtualenv from the pinned requirements; the
# final stage copies only the virtualenv onto the same slim base: no compiler, no pip cache, no
# source tree. Runs as an unprivileged user with a read-only root filesystem (see the chart).

ARG PYTHON_VERSION=3.11.14
ARG DEBIAN_RELEASE=trixie

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/kubetune
COPY requirements/operator.txt requirements/
# Exact pins from pip-compile (requirements/operator.txt), installed before the source is copied
# so the layer is reused across code changes.
RUN /opt/kubetune/bin/pip install --no-deps -r requirements/operator.txt
COPY pyproject.toml README.md LICENSE ./
COPY operator/ operator/
RUN /opt/kubetune/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/kubetune/bin/pip install --no-deps /wheels/kubetune-*.whl \
    && /opt/kubetune/bin/pip check \
    && /opt/kubetune/bin/python -m pip uninstall --yes --quiet pip \
    && /opt/kubetune/bin/python -m compileall -q /opt/kubetune

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kubetune" \
      org.opencontainers.image.description="Kubernetes-native hyperparameter tuning: the TuningJob operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/kubetune/kubetune" \
      org.opencontainers.image.url="https://github.com/kubetune/kubetune" \
      org.opencontainers.image.vendor="kubetune"
RUN groupadd --system --gid 10001 kubetune \
    && useradd --system --uid 10001 --gid kubetune --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin kubetune
COPY --from=build /opt/kubetune /opt/kubetune
# The operator waits on the API far more than it computes, and GP suggestions run one at a time:
# one BLAS thread and two malloc arenas keep its memory down (bench/results.md).
ENV PATH=/opt/kubetune/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMP_NUM_THREADS=1 \
    MALLOC_ARENA_MAX=2
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["kubetune", "operator"]
