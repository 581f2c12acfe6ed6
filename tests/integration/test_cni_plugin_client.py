"""tinykube-cni's C client with the node's plugin server: forwarding, falling back, and a server that hangs up."""

import json
import socket
import subprocess
import threading

from cni.flanneld import start_plugin_server
from cni.plugin_install import PLUGIN, PYTHON_PLUGIN, install_plugin
from cni.plugin_server import PluginServer
from cni.spec import SUPPORTED_VERSIONS, TRY_AGAIN_LATER


def version(plugin, **env):
    return subprocess.run([str(plugin)], input=b"{}", env={"CNI_COMMAND": "VERSION", **env}, capture_output=True,
                          timeout=30)


def test_client_forwards_to_the_server_and_runs_the_plugin_itself_without_one(tmp_path):
    sock = tmp_path / "s"
    install_plugin(tmp_path / "bin", str(sock))
    client = tmp_path / "bin" / PLUGIN
    assert client.read_bytes()[:4] == b"\x7fELF"
    alone = version(client)  # nothing listens: the Python plugin answers
    assert alone.returncode == 0 and json.loads(alone.stdout)["supportedVersions"] == list(SUPPORTED_VERSIONS)
    (tmp_path / "bin" / PYTHON_PLUGIN).rename(tmp_path / "moved")  # from here on only the server can answer
    server = PluginServer(str(sock)).start()
    try:
        served = version(client)
        failed = version(client, CNI_COMMAND="NOPE")
    finally:
        server.close()
    assert served.returncode == 0 and served.stdout == alone.stdout
    assert failed.returncode == 1 and json.loads(failed.stdout)["code"] == 4  # the plugin's own error, relayed
    assert not sock.exists()
    first = client.stat().st_ino
    install_plugin(tmp_path / "bin", str(sock))
    assert client.stat().st_ino == first  # unchanged: not rewritten


def test_a_server_that_ends_the_call_without_answering_means_try_again_later(tmp_path):
    sock = tmp_path / "s"
    install_plugin(tmp_path / "bin", str(sock))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock))
    listener.listen(1)

    def hang_up() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.close()

    thread = threading.Thread(target=hang_up)
    thread.start()
    try:
        out = version(tmp_path / "bin" / PLUGIN)
    finally:
        thread.join()
        listener.close()
    assert out.returncode == 1
    assert json.loads(out.stdout)["code"] == TRY_AGAIN_LATER


def test_without_a_server_socket_the_python_plugin_is_installed_as_is(tmp_path):
    install_plugin(tmp_path / "bin")
    assert (tmp_path / "bin" / PLUGIN).read_bytes().startswith(b"#!")
    assert version(tmp_path / "bin" / PLUGIN).returncode == 0


def test_plugin_server_is_optional_and_a_socket_it_cannot_bind_leaves_calls_to_the_plugin(tmp_path):
    assert start_plugin_server("") is None
    assert start_plugin_server(str(tmp_path / ("x" * 120) / "p.sock")) is None  # beyond sun_path's 108 bytes
    server = start_plugin_server(str(tmp_path / "run" / "p.sock"))
    assert server is not None
    try:
        install_plugin(tmp_path / "bin", server.path)
        (tmp_path / "bin" / PYTHON_PLUGIN).unlink()  # only the server can answer now
        out = subprocess.run([str(tmp_path / "bin" / PLUGIN)], input=b"{}", env={"CNI_COMMAND": "VERSION"},
                             capture_output=True, check=True, timeout=30)
    finally:
        server.close()
    assert json.loads(out.stdout)["supportedVersions"] == list(SUPPORTED_VERSIONS)
