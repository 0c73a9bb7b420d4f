"""The workload kinds besides batch/v1 Jobs that trials may be, from ``KUBETUNE_TRIAL_KINDS``.

The Helm chart sets it from its ``trialKinds`` value and grants exactly these kinds:
``"kubeflow.org/v1/PyTorchJob,jobset.x-k8s.io/v1alpha2/JobSet"``. The operator watches each
kind's objects labelled as trials, as it watches trial Jobs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

ENV = "KUBETUNE_TRIAL_KINDS"
V = TypeVar("V")


@dataclass(frozen=True)
class TrialKind:
    group: str
    version: str
    kind: str

    @property
    def plural(self) -> str:
        return self.kind.lower() + "s"

    @property
    def index_id(self) -> str:
        """The kopf index of this kind's trial objects."""
        return f"trial_workloads_{self.plural}"


def parse_trial_kinds(text: str) -> list[TrialKind]:
    """``"group/version/Kind,..."``; a bad entry raises ValueError naming it."""
    kinds = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        group, _, rest = entry.partition("/")
        version, _, kind = rest.partition("/")
        if not (group and version and kind) or "/" in kind:
            raise ValueError(
                f"{ENV}: {entry!r} is not apiVersion/Kind (e.g. kubeflow.org/v1/PyTorchJob)"
            )
        kinds.append(TrialKind(group, version, kind))
    return kinds


def configured_trial_kinds() -> list[TrialKind]:
    return parse_trial_kinds(os.environ.get(ENV, ""))


class MergedIndex(Generic[V]):
    """Several kopf indexes read as one (``get`` only, as the tuning loop uses them)."""

    def __init__(self, indexes: Iterable[Mapping[Any, Iterable[V]]]) -> None:
        self.indexes = list(indexes)

    def get(self, key: Any, default: Iterable[V] = ()) -> list[V]:
        found: list[V] = []
        for index in self.indexes:
            found.extend(index.get(key, []))
        return found or list(default)

    def __iter__(self) -> Iterator[Any]:
        seen: set[Any] = set()
        for index in self.indexes:
            for key in index:
                if key not in seen:
                    seen.add(key)
                    yield key
