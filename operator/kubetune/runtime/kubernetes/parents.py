"""Warm-start parents on a cluster: other TuningJobs' studies, read from their journals.

Only reads: the parent is found with a ``list`` of TuningJobs by name (the operator's role has
``list`` on them, not ``get``), its journal ConfigMaps with ``list`` (``ConfigMapJournalBackend``
replays them without writing). A parent the operator cannot see (another namespace it does not
watch, or no such TuningJob) is reported, never skipped.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client.exceptions import ApiException

from kubetune.api.spec import WarmStartParent
from kubetune.names import API_GROUP, PLURAL, VERSION
from kubetune.runtime.kubernetes.journal import StudyJournalError, open_journal_storage
from kubetune.search.warm_start import ParentLoader, ParentNotFound, ParentStudy, read_parent


def cluster_parents(core: Any, custom: Any, namespace: str) -> ParentLoader:
    """Reads a parent TuningJob's study; ``namespace``: the child's (a parent's default)."""

    def load(parent: WarmStartParent, metric: str) -> ParentStudy:
        where = parent.namespace or namespace
        label = f"{where}/{parent.name}"
        try:
            listed = custom.list_namespaced_custom_object(
                API_GROUP, VERSION, where, PLURAL, field_selector=f"metadata.name={parent.name}"
            )
        except ApiException as error:
            raise ParentNotFound(
                f"cannot read TuningJob {label}: {error.status} {error.reason}"
            ) from None
        items = listed.get("items") or []
        if not items:
            raise ParentNotFound(f"no TuningJob {label}")
        uid = (items[0].get("metadata") or {}).get("uid") or ""
        try:
            storage = open_journal_storage(core, parent.name, where, uid)
            storage.backend.load()
        except (ApiException, StudyJournalError) as error:
            raise ParentNotFound(f"cannot read the study journal of {label}: {error}") from None
        return read_parent(storage, parent.name, label, metric)

    return load
