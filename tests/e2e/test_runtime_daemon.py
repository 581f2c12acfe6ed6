"""The runtime daemon through CRI gRPC and ``tinykube crictl``: lifecycle, and surviving a SIGKILL."""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import sys

import aiohttp
import pytest

from protos.cri import api_pb2 as cri
from tests.e2e.runtime_support import (
    cri_stub,
    daemon_argv,
    force_cleanup,
    import_default_images,
    leaks,
    remove_all_pods,
    wait_for,
)


@pytest.fixture
def daemon(tmp_path, prefix, processes):
    """Start/kill/restart the daemon; at the end every pod is removed and the host checked for leaks."""
    import_default_images(tmp_path / "root")
    argv = daemon_argv(tmp_path, prefix, tmp_path / "no-cni")
    state = {"proc": processes.start("runtime", argv)}

    class Daemon:
        def stub(self):
            return cri_stub(tmp_path)[1]

        def kill(self):
            state["proc"].kill()
            state["proc"].wait()

        def restart(self):
            state["proc"] = processes.start("runtime", argv)

        def crictl(self, *args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "tinykube.cli", "crictl", *args], capture_output=True,
                                  text=True, timeout=60,
                                  env={"CONTAINER_RUNTIME_ENDPOINT": f"unix://{tmp_path}/cri.sock",
                                       "PATH": "/usr/bin:/bin"})

    d = Daemon()
    try:
        d.stub()  # ready: the socket answers
        yield d
    finally:
        try:
            if state["proc"].poll() is not None:
                d.restart()
            remove_all_pods(d.stub())
            processes.stop_all()
            from runtime.linux.cgroups import CgroupV1  # noqa: PLC0415

            CgroupV1().remove(prefix, timeout=5)
        finally:
            left = leaks(prefix, tmp_path)
            force_cleanup(prefix, tmp_path)
        assert not left, f"leaked: {left}"


def _pod_config(tmp_path, name="web"):
    return cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata(name=name, namespace="default", uid=f"uid-{name}"),
                                hostname=name, log_directory=str(tmp_path / "logs"))


def _container_config(name, command):
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name), image=cri.ImageSpec(image="busybox"), command=command,
        log_path=f"{name}.log",
        linux=cri.LinuxContainerConfig(security_context=cri.LinuxContainerSecurityContext(
            namespace_options=cri.NamespaceOption(pid=cri.CONTAINER))))


def _run(stub, pod_id, pod_config, name, command):
    req = cri.CreateContainerRequest(pod_sandbox_id=pod_id, config=_container_config(name, command),
                                     sandbox_config=pod_config)
    cid = stub.CreateContainer(req, timeout=30).container_id
    stub.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=30)
    return cid


def _status(stub, cid):
    return stub.ContainerStatus(cri.ContainerStatusRequest(container_id=cid), timeout=30).status


def test_containers_survive_a_daemon_sigkill_and_later_exits_are_reported(daemon, tmp_path):
    stub = daemon.stub()
    pod_config = _pod_config(tmp_path)
    pod = stub.RunPodSandbox(cri.RunPodSandboxRequest(config=pod_config), timeout=60).pod_sandbox_id
    long_id = _run(stub, pod, pod_config, "long", ["sleep", "1000"])
    short_id = _run(stub, pod, pod_config, "short", ["/bin/sh", "-c", "sleep 4; echo bye; exit 7"])
    assert _status(stub, long_id).state == cri.CONTAINER_RUNNING

    daemon.kill()
    daemon.restart()
    stub = daemon.stub()
    listed = {c.id: c.state for c in stub.ListContainers(cri.ListContainersRequest(), timeout=30).containers}
    assert listed[long_id] == cri.CONTAINER_RUNNING
    assert short_id in listed
    pods = stub.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items
    assert [(p.id, p.state) for p in pods] == [(pod, cri.SANDBOX_READY)]

    wait_for(lambda: _status(stub, short_id).state == cri.CONTAINER_EXITED, 45, "the short container's exit")
    st = _status(stub, short_id)
    assert (st.exit_code, st.reason) == (7, "Error")
    assert st.finished_at > st.started_at > 0
    assert "bye" in (tmp_path / "logs" / "short.log").read_text()

    stub.StopContainer(cri.StopContainerRequest(container_id=long_id, timeout=1), timeout=30)
    assert _status(stub, long_id).exit_code == 137


def test_pods_start_while_other_containers_wait_out_their_grace_period(daemon, tmp_path):
    """Stops waiting out a grace period hold no thread a new sandbox needs (8 exceed the default pool's 6)."""
    stub = daemon.stub()
    pod_config = _pod_config(tmp_path, "ending")
    pod = stub.RunPodSandbox(cri.RunPodSandboxRequest(config=pod_config), timeout=60).pod_sandbox_id
    shell = "trap 'echo term' TERM; while true; do sleep 1; done"  # says it got SIGTERM, keeps running
    cids = [_run(stub, pod, pod_config, f"stubborn{i}", ["/bin/sh", "-c", shell]) for i in range(8)]
    stops = [stub.StopContainer.future(cri.StopContainerRequest(container_id=cid, timeout=300), timeout=330)
             for cid in cids]
    wait_for(lambda: all("term" in (tmp_path / "logs" / f"stubborn{i}.log").read_text() for i in range(8)), 60,
             "every container to get its SIGTERM")
    started = stub.RunPodSandbox(cri.RunPodSandboxRequest(config=_pod_config(tmp_path, "next")), timeout=60)
    assert started.pod_sandbox_id
    assert not any(stop.done() for stop in stops)
    stub.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)  # no grace: ends the waits
    for stop in stops:
        stop.result()
    assert {_status(stub, cid).exit_code for cid in cids} == {137}


def test_crictl_drives_the_daemon(daemon, tmp_path):
    (tmp_path / "pod.json").write_text(json.dumps({
        "metadata": {"name": "cli", "namespace": "default", "uid": "u-cli"}, "hostname": "cli",
        "log_directory": str(tmp_path / "logs")}))
    (tmp_path / "ctr.json").write_text(json.dumps({
        "metadata": {"name": "shell"}, "image": {"image": "busybox"},
        "command": ["/bin/sh", "-c", "echo started; hostname; sleep 1000"], "log_path": "shell.log",
        "linux": {"security_context": {"namespace_options": {"pid": "CONTAINER"}}}}))
    version = daemon.crictl("version")
    assert version.returncode == 0 and "RuntimeName:  tinykube" in version.stdout
    images = daemon.crictl("images").stdout.splitlines()
    assert images[0].split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert {tuple(line.split()[:2]) for line in images[1:]} >= {("docker.io/library/busybox", "latest"),
                                                               ("docker.io/library/pause", "latest")}
    assert json.loads(daemon.crictl("inspecti", "busybox").stdout)["status"]["repoTags"]
    pod = daemon.crictl("runp", str(tmp_path / "pod.json")).stdout.strip()
    assert len(pod) == 64
    create = daemon.crictl("create", pod[:13], str(tmp_path / "ctr.json"), str(tmp_path / "pod.json"), "--no-pull")
    assert create.returncode == 0, create.stderr
    cid = create.stdout.strip()
    assert daemon.crictl("start", cid).returncode == 0
    pods = daemon.crictl("pods").stdout.splitlines()
    assert pods[0].split() == ["POD", "ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"]
    assert pods[1].startswith(pod[:13]) and " Ready " in pods[1] and " cli " in pods[1]
    ps = daemon.crictl("ps").stdout.splitlines()
    assert ps[0].split()[:2] == ["CONTAINER", "IMAGE"] and "Running" in ps[1] and "shell" in ps[1]
    assert daemon.crictl("ps", "-q").stdout.split() == [cid]
    wait_for(lambda: "cli" in daemon.crictl("logs", cid).stdout, 30, "the log")
    assert daemon.crictl("logs", cid).stdout.split() == ["started", "cli"]
    ex = daemon.crictl("exec", "-s", cid, "ps", "-o", "pid,args")
    assert ex.returncode == 0 and "1 sleep 1000" in ex.stdout
    assert daemon.crictl("exec", "-s", cid, "sh", "-c", "exit 4").returncode == 4
    # CRI leaves seccomp unset here: the runtime applies its RuntimeDefault filter anyway.
    assert daemon.crictl("exec", "-s", cid, "grep", "Seccomp:", "/proc/self/status").stdout.split() == ["Seccomp:", "2"]
    inspect = json.loads(daemon.crictl("inspect", cid).stdout)
    assert inspect["status"]["state"] == "CONTAINER_RUNNING" and inspect["info"]["pid"] > 0
    inspectp = json.loads(daemon.crictl("inspectp", pod).stdout)
    assert inspectp["status"]["metadata"]["name"] == "cli"
    stats = daemon.crictl("stats", "-o", "json")
    assert json.loads(stats.stdout)["stats"][0]["attributes"]["id"] == cid
    assert daemon.crictl("stop", "-t", "1", cid).returncode == 0
    assert "Exited" in daemon.crictl("ps", "-a").stdout
    assert daemon.crictl("rm", cid).returncode == 0
    assert daemon.crictl("stopp", pod).stdout.strip() == f"Stopped sandbox {pod}"
    assert daemon.crictl("rmp", pod).stdout.strip() == f"Removed sandbox {pod}"
    assert daemon.crictl("pods", "-q").stdout.strip() == ""


async def _port_forward_get(url: str, port: int) -> bytes:
    """An HTTP GET through the port-forward channel protocol (data on channel 0 for the first port)."""
    async with aiohttp.ClientSession() as session, session.ws_connect(
            f"{url}?port={port}", protocols=("v4.channel.k8s.io",)) as ws:
        headers = [await ws.receive_bytes(), await ws.receive_bytes()]
        assert headers == [b"\x00" + struct.pack("<H", port), b"\x01" + struct.pack("<H", port)]
        await ws.send_bytes(b"\x00GET / HTTP/1.0\r\n\r\n")
        body = b""
        while b"</html>" not in body and b"hello-pf" not in body:
            msg = await asyncio.wait_for(ws.receive(), 30)
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            if msg.data[0] == 0:
                body += msg.data[1:]
        return body


def test_streaming_exec_and_port_forward(daemon, tmp_path):
    stub = daemon.stub()
    pod_config = _pod_config(tmp_path, "stream")
    pod = stub.RunPodSandbox(cri.RunPodSandboxRequest(config=pod_config), timeout=60).pod_sandbox_id
    cid = _run(stub, pod, pod_config, "web",
               ["/bin/sh", "-c", "echo hello-pf > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"])

    piped = subprocess.run([sys.executable, "-m", "tinykube.cli", "crictl", "-r", f"unix://{tmp_path}/cri.sock",
                            "exec", "-i", cid, "sh", "-c", "cat; echo done >&2; exit 3"],
                           input="through stdin\n", capture_output=True, text=True, timeout=60)
    assert (piped.stdout, piped.stderr, piped.returncode) == ("through stdin\n", "done\n", 3)
    tty = daemon.crictl("exec", "-t", cid, "sh", "-c", "tty; stty size")
    assert tty.returncode == 0 and tty.stdout.startswith("/dev/pts/"), tty

    url = stub.PortForward(cri.PortForwardRequest(pod_sandbox_id=pod, port=[8080]), timeout=30).url
    assert "hello-pf" in asyncio.run(_port_forward_get(url, 8080)).decode()
    reused = subprocess.run(["/bin/busybox", "wget", "-qO-", url], capture_output=True)
    assert reused.returncode != 0  # tokens are single-use


def test_attach_feeds_stdin_and_streams_output(daemon, tmp_path):
    stub = daemon.stub()
    pod_config = _pod_config(tmp_path, "attach")
    pod = stub.RunPodSandbox(cri.RunPodSandboxRequest(config=pod_config), timeout=60).pod_sandbox_id
    config = _container_config("reader", ["/bin/sh", "-c", "while read line; do echo got:$line; done; echo bye"])
    config.stdin = True
    cid = stub.CreateContainer(cri.CreateContainerRequest(pod_sandbox_id=pod, config=config,
                                                          sandbox_config=pod_config), timeout=30).container_id
    stub.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=30)
    attached = subprocess.run([sys.executable, "-m", "tinykube.cli", "crictl", "-r", f"unix://{tmp_path}/cri.sock",
                               "attach", "-i", cid], input="hello\nworld\n", capture_output=True, text=True,
                              timeout=60)
    assert attached.stdout.split() == ["got:hello", "got:world", "bye"], attached
    wait_for(lambda: _status(stub, cid).state == cri.CONTAINER_EXITED, 30, "the reader to exit once stdin closed")
    assert "got:world" in (tmp_path / "logs" / "reader.log").read_text()
    assert daemon.crictl("logs", "-f", cid).stdout.split() == ["got:hello", "got:world", "bye"]  # ends: exited
    assert daemon.crictl("logs", "--tail", "1", cid).stdout.split() == ["bye"]
    stamped = daemon.crictl("logs", "--timestamps", "--tail", "1", cid).stdout.split()
    assert stamped[0].endswith("Z") and stamped[1] == "bye"
