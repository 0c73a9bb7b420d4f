"""Fixtures shared by every test directory."""

from tests.kubesim.fixtures import kube_binaries, kubesim_api, kubesim_cluster

__all__ = ["kube_binaries", "kubesim_api", "kubesim_cluster"]
