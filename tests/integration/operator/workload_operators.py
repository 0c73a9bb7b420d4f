"""Stand-ins for the Kubeflow training operator and the JobSet controller, for trial kinds.

Each registers its real CRD name and version in the emulator (a structural schema that keeps
whatever the spec says) and runs as a thread in the test process, a small controller through
the official client, doing what the real operator does as far as a trial can tell:

* **PyTorchJob** (``kubeflow.org/v1``): one pod per replica of ``spec.pytorchReplicaSpecs``
  (``<job>-master-0``, ``<job>-worker-<i>``), labelled ``training.kubeflow.org/job-name``,
  ``replica-type`` (lower case) and ``replica-index``, with ``MASTER_ADDR``, ``MASTER_PORT``,
  ``WORLD_SIZE`` and ``RANK`` set; conditions ``Created`` and ``Running``, then ``Succeeded``
  once the master pod succeeded, or ``Failed`` once any pod failed (the training operator's
  defaults: ``successPolicy`` on the master, no restarts).
* **JobSet** (``jobset.x-k8s.io/v1alpha2``): one batch/v1 Job per replica of each
  ``replicatedJobs[]`` (``<jobset>-<name>-<index>``, labelled ``jobset.sigs.k8s.io/...``; the
  emulator's Job controller runs their pods), and ``Completed`` once every Job is Complete, or
  ``Failed`` once one failed.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from .harness import Cluster

PYTORCH = ("kubeflow.org", "v1", "pytorchjobs", "PyTorchJob")
JOBSET = ("jobset.x-k8s.io", "v1alpha2", "jobsets", "JobSet")
POLL_SECONDS = 0.2


def crd(group: str, version: str, plural: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conditions(*true: tuple[str, str, str]) -> list[dict[str, Any]]:
    return [
        {
            "type": kind,
            "status": "True",
            "reason": reason,
            "message": message,
            "lastTransitionTime": _now(),
            "lastUpdateTime": _now(),
        }
        for kind, reason, message in true
    ]


def _owner(obj: dict[str, Any], api_version: str, kind: str) -> list[dict[str, Any]]:
    meta = obj["metadata"]
    return [
        {
            "apiVersion": api_version,
            "kind": kind,
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


class WorkloadOperators:
    """Both stand-ins, reconciling every object of their kinds in ``namespace``."""

    def __init__(self, cluster: Cluster, namespace: str = "default") -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.stopped = threading.Event()
        self.errors: list[BaseException] = []

    def _objects(self, group: str, version: str, plural: str) -> list[dict[str, Any]]:
        listed = self.cluster.custom.list_namespaced_custom_object(
            group, version, self.namespace, plural
        )
        return list(listed["items"])

    def _set_status(
        self, kind: tuple[str, str, str, str], obj: dict[str, Any], status: dict[str, Any]
    ) -> None:
        group, version, plural, _ = kind
        if obj.get("status") == status:
            return
        self.cluster.custom.patch_namespaced_custom_object_status(
            group, version, self.namespace, plural, obj["metadata"]["name"], {"status": status}
        )

    # ---- PyTorchJob -------------------------------------------------------------------------

    def _pytorchjob(self, job: dict[str, Any]) -> None:
        name = job["metadata"]["name"]
        replicas = job["spec"].get("pytorchReplicaSpecs") or {}
        world = sum(int(spec.get("replicas", 1)) for spec in replicas.values())
        pods = {
            p.metadata.name: p
            for p in self.cluster.core.list_namespaced_pod(
                self.namespace, label_selector=f"training.kubeflow.org/job-name={name}"
            ).items
        }
        rank = 0
        for replica_type in sorted(replicas, key=lambda t: t != "Master"):
            spec = replicas[replica_type]
            for index in range(int(spec.get("replicas", 1))):
                pod_name = f"{name}-{replica_type.lower()}-{index}"
                if pod_name not in pods:
                    self._create_pytorch_pod(job, replica_type, spec, index, rank, world)
                rank += 1
        conditions = [
            ("Created", "PyTorchJobCreated", f"PyTorchJob {name} is created."),
            ("Running", "PyTorchJobRunning", f"PyTorchJob {name} is running."),
        ]
        master = pods.get(f"{name}-master-0")
        if any(p.status.phase == "Failed" for p in pods.values()):
            conditions = [
                conditions[0],
                ("Failed", "PyTorchJobFailed", f"PyTorchJob {name} is failed."),
            ]
        elif master is not None and master.status.phase == "Succeeded":
            conditions = [
                conditions[0],
                (
                    "Succeeded",
                    "PyTorchJobSucceeded",
                    f"PyTorchJob {name} is successfully completed.",
                ),
            ]
        current = {c["type"] for c in (job.get("status") or {}).get("conditions") or []}
        if current != {c[0] for c in conditions}:
            self._set_status(PYTORCH, job, {"conditions": _conditions(*conditions)})

    def _create_pytorch_pod(
        self,
        job: dict[str, Any],
        replica_type: str,
        spec: dict[str, Any],
        index: int,
        rank: int,
        world: int,
    ) -> None:
        name = job["metadata"]["name"]
        template = copy.deepcopy(spec["template"])
        meta = template.setdefault("metadata", {})
        meta["name"] = f"{name}-{replica_type.lower()}-{index}"
        meta["labels"] = {
            **(meta.get("labels") or {}),
            "training.kubeflow.org/job-name": name,
            "training.kubeflow.org/replica-type": replica_type.lower(),
            "training.kubeflow.org/replica-index": str(index),
            "training.kubeflow.org/operator-name": "pytorchjob-controller",
        }
        meta["ownerReferences"] = _owner(job, "kubeflow.org/v1", "PyTorchJob")
        pod_spec = template["spec"]
        pod_spec["restartPolicy"] = spec.get("restartPolicy", "Never")
        env = [
            {"name": "MASTER_ADDR", "value": f"{name}-master-0"},
            {"name": "MASTER_PORT", "value": "23456"},
            {"name": "WORLD_SIZE", "value": str(world)},
            {"name": "RANK", "value": str(rank)},
        ]
        for container in pod_spec["containers"]:
            container["env"] = [*(container.get("env") or []), *env]
        body = {"apiVersion": "v1", "kind": "Pod", **template}
        try:
            self.cluster.core.create_namespaced_pod(self.namespace, body)
        except ApiException as error:
            if error.status != 409:
                raise

    # ---- JobSet -----------------------------------------------------------------------------

    def _jobset(self, jobset: dict[str, Any]) -> None:
        name = jobset["metadata"]["name"]
        wanted: list[str] = []
        for replicated in jobset["spec"].get("replicatedJobs") or []:
            for index in range(int(replicated.get("replicas", 1))):
                job_name = f"{name}-{replicated['name']}-{index}"
                wanted.append(job_name)
                self._create_child_job(jobset, replicated, index, job_name)
        states: list[str | None] = []
        for job_name in wanted:
            try:
                job = self.cluster.batch.read_namespaced_job_status(job_name, self.namespace)
            except ApiException:
                states.append(None)
                continue
            true = {c.type for c in job.status.conditions or [] if c.status == "True"}
            states.append(
                "Complete" if "Complete" in true else "Failed" if "Failed" in true else None
            )
        if "Failed" in states:
            conditions = [("Failed", "FailedJobs", "jobset failed due to one or more job failures")]
        elif states and all(s == "Complete" for s in states):
            conditions = [("Completed", "AllJobsCompleted", "jobset completed successfully")]
        else:
            return
        if not (jobset.get("status") or {}).get("conditions"):
            self._set_status(JOBSET, jobset, {"conditions": _conditions(*conditions)})

    def _create_child_job(
        self, jobset: dict[str, Any], replicated: dict[str, Any], index: int, job_name: str
    ) -> None:
        template = copy.deepcopy(replicated["template"])
        labels = {
            "jobset.sigs.k8s.io/jobset-name": jobset["metadata"]["name"],
            "jobset.sigs.k8s.io/replicatedjob-name": replicated["name"],
            "jobset.sigs.k8s.io/job-index": str(index),
        }
        pod = template["spec"].setdefault("template", {})
        pod.setdefault("metadata", {})["labels"] = {
            **(pod["metadata"].get("labels") or {}),
            **labels,
        }
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": job_name,
                "labels": labels,
                "ownerReferences": _owner(jobset, "jobset.x-k8s.io/v1alpha2", "JobSet"),
            },
            "spec": template["spec"],
        }
        try:
            self.cluster.batch.create_namespaced_job(self.namespace, body)
        except ApiException as error:
            if error.status != 409:
                raise

    # ---- loop -------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                for job in self._objects(*PYTORCH[:3]):
                    self._pytorchjob(job)
                for jobset in self._objects(*JOBSET[:3]):
                    self._jobset(jobset)
            except ApiException as error:
                if error.status not in (404, 409):
                    self.errors.append(error)
            except Exception as error:  # a stand-in bug must fail the test, not hang it
                self.errors.append(error)
            self.stopped.wait(POLL_SECONDS)

    @contextmanager
    def running(self) -> Iterator[WorkloadOperators]:
        for kind in (PYTORCH, JOBSET):
            self.cluster.apply(crd(*kind))
            self.cluster.kubectl(
                "wait", "--for=condition=Established", f"crd/{kind[2]}.{kind[0]}", "--timeout=30s"
            )
        thread = threading.Thread(target=self._loop, name="workload-operators", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stopped.set()
            thread.join(timeout=5)
        assert not self.errors, self.errors
