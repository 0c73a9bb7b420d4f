"""The operator fixtures (one emulated cluster and one operator process per module)."""

from tests.integration.operator.conftest import cluster, operator, sim

__all__ = ["cluster", "operator", "sim"]
