"""Where a study is kept: an Optuna storage URL, or a journal file by default.

A journal file needs no database, survives a crash mid-write and opens in optuna-dashboard
(``optuna-dashboard PATH``); any Optuna storage URL (``sqlite:///study.db``,
``postgresql://...``) can be given instead.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

RDB_SCHEMES = ("sqlite:", "postgresql", "mysql", "oracle", "mssql")


def open_storage(location: str | Path) -> optuna.storages.BaseStorage:
    """An Optuna storage for a URL or a journal file path."""
    text = str(location)
    if text.startswith(RDB_SCHEMES):
        return optuna.storages.RDBStorage(text)
    path = Path(text.removeprefix("journal://")).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
    return optuna.storages.JournalStorage(backend)
