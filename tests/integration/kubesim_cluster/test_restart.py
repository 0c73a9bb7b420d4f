"""Restarts and the cluster half: an API server restart kills no pod (the kubelet keeps running
it and reports to the new API server); a crash of the whole emulator is a node crash too (its
pods' processes die with it), so the new kubelet reports them Failed and the Job controller
replaces them, as after a real node reboot."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client, config

from tests.kubesim.harness import KubeSim, wait_until

from .support import job_manifest, job_pods, wait_job_condition, wait_pod_phase


def _gated(gate: Path) -> list[str]:
    """A container that runs until the test creates ``gate``: alive for as long as needed."""
    return ["sh", "-c", f"echo started; while [ ! -e {gate} ]; do sleep 0.1; done; echo done"]


def test_pods_keep_running_through_an_api_server_restart(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    with KubeSim(work_dir=tmp_path / "sim") as sim:
        api = config.new_client_from_config(config_file=str(sim.kubeconfig))
        core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
        job = batch.create_namespaced_job("default", job_manifest("through", _gated(gate)))
        pod = wait_until(lambda: job_pods(core, "default", "through"), message="the pod")[0]
        wait_pod_phase(core, "default", pod.metadata.name, ("Running",))

        sim.restart_api(downtime=1.0)
        gate.touch()
        wait_job_condition(batch, "default", "through", "Complete", timeout=30)

        pods = job_pods(core, "default", "through")
        assert [p.metadata.uid for p in pods] == [pod.metadata.uid]  # never replaced
        assert pods[0].status.phase == "Succeeded"
        assert pods[0].status.container_statuses[0].restart_count == 0
        log = core.read_namespaced_pod_log(pod.metadata.name, "default")
        assert log.split() == ["started", "done"]  # one run, from before to after
        assert batch.read_namespaced_job("through", "default").metadata.uid == job.metadata.uid
        api.close()


def test_a_crash_of_the_whole_emulator_is_a_node_crash(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    with KubeSim(work_dir=tmp_path / "sim") as sim:
        api = config.new_client_from_config(config_file=str(sim.kubeconfig))
        core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
        batch.create_namespaced_job("default", job_manifest("crashed", _gated(gate)))
        pod = wait_until(lambda: job_pods(core, "default", "crashed"), message="the pod")[0]
        wait_pod_phase(core, "default", pod.metadata.name, ("Running",))

        sim.kill()
        gate.touch()
        sim.start()

        wait_job_condition(batch, "default", "crashed", "Complete", timeout=60)
        pods = {p.metadata.uid: p for p in job_pods(core, "default", "crashed")}
        lost = pods.pop(pod.metadata.uid)
        assert lost.status.phase == "Failed"
        terminated = lost.status.container_statuses[0].state.terminated
        assert terminated.exit_code == 137
        assert "lost when kubesim restarted" in terminated.message
        assert [p.status.phase for p in pods.values()] == ["Succeeded"]  # the replacement
        assert batch.read_namespaced_job("crashed", "default").status.failed == 1
        api.close()
