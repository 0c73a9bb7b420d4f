"""What every handler shares: API clients, wakeups, how studies are opened."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubetune.operator.clients import Clients
from kubetune.operator.interruptions import InterruptionLog
from kubetune.operator.metrics import OperatorMetrics
from kubetune.operator.wakeups import Wakeups
from kubetune.runtime.kubernetes.retention import JobRetention


@dataclass
class OperatorContext:
    """Passed to kopf as the operator's ``memo``; handlers receive it as ``memo``."""

    clients: Clients
    wakeups: Wakeups = field(default_factory=Wakeups)
    interruptions: InterruptionLog = field(default_factory=InterruptionLog)
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)  # served on /metrics
    # Finished Jobs of recorded trials are deleted after this; None keeps them all.
    retention: JobRetention | None = field(default_factory=JobRetention)
