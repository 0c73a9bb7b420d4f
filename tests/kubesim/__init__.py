"""kubesim: a local Kubernetes API emulator for testing the operator as it really runs.

The HTTP half (this package's top level) serves the Kubernetes REST API from memory; the
cluster half (``tests.kubesim.cluster``) runs the Job controller, scheduler and a kubelet that
start pod containers as local processes, talking to the API over HTTP only.

Start it with ``python -m tests.kubesim --port 0 --kubeconfig PATH``; from tests use
:class:`tests.kubesim.harness.KubeSim`.
"""
