"""A TuningJob's Optuna study kept in its namespace as a journal in ConfigMaps, no database.

Layout, write protocol, replay and RBAC: docs/design/journal.md.
"""

from kubetune.names import (
    ANNOTATION_FORMAT,
    ANNOTATION_SEALED,
    ANNOTATION_TUNINGJOB,
    LABEL_CHUNK,
    LABEL_COMPONENT,
    LABEL_TUNINGJOB,
)
from kubetune.runtime.kubernetes.journal.backend import (
    ConfigMapJournalBackend,
    KubernetesJournalStorage,
    delete_study_journal,
    open_journal_storage,
)
from kubetune.runtime.kubernetes.journal.errors import (
    ConcurrentWriterError,
    JournalEntryTooLargeError,
    StudyJournalError,
)
from kubetune.runtime.kubernetes.journal.layout import (
    COMPONENT,
    DEFAULT_CHUNK_BYTES,
    FORMAT,
    chunk_name,
    journal_selector,
    tuningjob_label,
)
from kubetune.runtime.kubernetes.journal.retry import RetryPolicy

__all__ = [
    "ANNOTATION_FORMAT",
    "ANNOTATION_SEALED",
    "ANNOTATION_TUNINGJOB",
    "COMPONENT",
    "DEFAULT_CHUNK_BYTES",
    "FORMAT",
    "LABEL_CHUNK",
    "LABEL_COMPONENT",
    "LABEL_TUNINGJOB",
    "ConcurrentWriterError",
    "ConfigMapJournalBackend",
    "JournalEntryTooLargeError",
    "KubernetesJournalStorage",
    "RetryPolicy",
    "StudyJournalError",
    "chunk_name",
    "delete_study_journal",
    "journal_selector",
    "open_journal_storage",
    "tuningjob_label",
]
