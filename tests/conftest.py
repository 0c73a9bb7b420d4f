"""Fixtures shared by every test directory."""

from tests.kubesim.fixtures import kube_binaries, kubesim_api, kubesim_cluster
from tests.prometheus_stack import prometheus, prometheus_names

__all__ = ["kube_binaries", "kubesim_api", "kubesim_cluster", "prometheus", "prometheus_names"]
