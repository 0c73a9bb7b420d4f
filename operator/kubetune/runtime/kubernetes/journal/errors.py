"""What can go wrong with a study journal, from retryable to fatal for this writer."""

from __future__ import annotations


class StudyJournalError(RuntimeError):
    """The journal could not be read or written (after retries, where retrying made sense)."""


class ConcurrentWriterError(StudyJournalError):
    """Another writer appended to (or sealed) this study's journal behind our back.

    The in-memory view is no longer the study: drop this backend and open a fresh one (in the
    operator: give up leadership or restart the reconcile of this TuningJob).
    """


class JournalEntryTooLargeError(StudyJournalError, ValueError):
    """One journal entry cannot fit in a chunk (e.g. a huge user attribute)."""
