"""What every handler shares: API clients, wakeups, how studies are opened."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubetune.operator.clients import Clients
from kubetune.operator.wakeups import Wakeups


@dataclass
class OperatorContext:
    """Passed to kopf as the operator's ``memo``; handlers receive it as ``memo``."""

    clients: Clients
    wakeups: Wakeups = field(default_factory=Wakeups)
