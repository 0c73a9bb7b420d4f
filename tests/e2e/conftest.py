"""End-to-end tests against a real cluster: collected only when KUBECONFIG names one.

They expect kubetune installed in the cluster (`helm install kubetune charts/kubetune -n
kubetune --create-namespace`) and an image the cluster can pull for the example trials.
Everything they check is also covered against the local emulator in tests/integration.
"""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("KUBECONFIG") else ["test_*.py"]
