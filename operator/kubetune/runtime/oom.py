"""Telling an OOM kill from another SIGKILL, for trial processes run on this machine.

The kernel's OOM killer sends SIGKILL, as ``kill -9`` does; what tells them apart is the
``oom_kill`` counter of the cgroup (v2) kubetune runs in, in its ``memory.events`` file. A trial
killed by SIGKILL that kubetune did not send, while that counter went up, was OOM killed.
Where there is no such file (cgroup v1, macOS), nobody can tell: the trial is an ``Error``.
"""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def memory_events_path(
    proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = CGROUP_ROOT
) -> Path | None:
    """The ``memory.events`` file of this process's cgroup v2, if there is one."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            candidate = root / path.lstrip("/") / "memory.events"
            return candidate if candidate.is_file() else None
    return None


def oom_kill_count(events: Path | None) -> int | None:
    """The cgroup's ``oom_kill`` counter; None if it cannot be read."""
    if events is None:
        return None
    try:
        for line in events.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    except (OSError, ValueError):
        return None
    return None


class OomWitness:
    """Notes the ``oom_kill`` counter when a trial starts; says later whether it went up."""

    def __init__(self, events: Path | None) -> None:
        self.events = events
        self.before = oom_kill_count(events)

    def saw_oom_kill(self) -> bool:
        after = oom_kill_count(self.events)
        return self.before is not None and after is not None and after > self.before
