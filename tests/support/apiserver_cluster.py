"""A real 3-member store plus apiservers on loopback, with `tinykube certs` TLS, and real kubectl against them."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from tests.integration.store_cluster import StoreCluster, make_tls
from tests.support.ports import free_port
from tests.support.processes import Processes

BIN = Path(sys.executable).parent
KUBECTL = "/usr/bin/kubectl"


@dataclass
class Apiserver:
    """One running apiserver and the kubeconfig pointing at it."""

    name: str
    port: int
    kubeconfig: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


class ApiserverCluster:
    """Store members and apiservers started through `processes`; `kubectl` runs the real client."""

    def __init__(self, processes: Processes, port: Callable[[], int], root: Path, apiservers: int = 2,
                 store_tls: bool = False) -> None:
        """``store_tls``: the store serves clients over TLS and requires their certificates, as in ``tinykube up``."""
        self.processes = processes
        self.root = root
        self.pki = root / "pki"
        store_pki = make_tls(root / "store-pki") if store_tls else None
        self.store = StoreCluster(processes, port, root / "store", tls=store_pki)
        self.apiservers: list[Apiserver] = []
        self._port = port
        self._count = apiservers
        self.home = root / "home"

    def start(self) -> None:
        """Store first, then apiservers, each ready (bootstrap objects written) before returning."""
        subprocess.run(
            [
                str(BIN / "tinykube"),
                "certs",
                "--dir",
                str(self.pki),
                "--apiserver-ips",
                "127.0.0.1",
                "--apiserver-names",
                "localhost",
            ],
            check=True,
            capture_output=True,
        )
        self.store.start_all()
        for i in range(self._count):
            self.add_apiserver(f"apiserver{i + 1}")

    def add_apiserver(self, name: str, *extra: str) -> Apiserver:
        """Start one more apiserver and wait until it serves."""
        port = self._port()
        config = yaml.safe_load((self.pki / "admin.kubeconfig").read_text())
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
        kubeconfig = self.root / f"{name}.kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(config))
        proc = self.processes.start(
            name,
            [
                str(BIN / "tinykube"),
                "apiserver",
                "--etcd-servers",
                ",".join(m.client_url for m in self.store.members),
                *self._store_tls_flags(),
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                str(port),
                "--tls-cert-file",
                str(self.pki / "apiserver.crt"),
                "--tls-private-key-file",
                str(self.pki / "apiserver.key"),
                "--client-ca-file",
                str(self.pki / "ca.crt"),
                "--service-account-key-file",
                str(self.pki / "sa.pub"),
                "--service-account-signing-key-file",
                str(self.pki / "sa.key"),
                # No controller-manager creates the `default` ServiceAccounts here, so pods could not be admitted
                # (Kubernetes' own integration tests run this way too); `extra` may turn it back on.
                "--disable-admission-plugins=ServiceAccount",
                *extra,
            ],
        )
        server = Apiserver(name, port, kubeconfig, proc)
        self.apiservers.append(server)
        self.wait_ready(server)
        return server

    def _store_tls_flags(self) -> tuple[str, ...]:
        tls = self.store.tls
        if tls is None:
            return ()
        return ("--etcd-cafile", str(tls.ca), "--etcd-certfile", str(tls.client_cert),
                "--etcd-keyfile", str(tls.client_key))

    def ssl_context(self) -> ssl.SSLContext:
        """Client TLS as the admin."""
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(self.pki / "admin.crt", self.pki / "admin.key")
        return ctx

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        server: int = 0,
        headers: dict[str, str] | None = None,
        admin: bool = True,
    ) -> tuple[int, dict[str, Any]]:
        """One HTTPS request; returns the code and the JSON body."""
        ctx = self.ssl_context() if admin else ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        sent = {"Content-Type": "application/json", **(headers or {})} if body is not None else dict(headers or {})
        req = urllib.request.Request(self.apiservers[server].url + path, data=body, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def wait_ready(self, server: Apiserver, timeout: float = 30.0) -> None:
        """Until the bootstrap objects exist (the `kubernetes` Service is written last but one)."""
        deadline = time.monotonic() + timeout
        index = self.apiservers.index(server)
        while True:
            try:
                code, _ = self.request("GET", "/api/v1/namespaces/default/services/kubernetes", server=index)
                if code == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{server.name} not ready:\n{self.processes.log(server.name)[-3000:]}")
            time.sleep(0.2)

    def endpoint_ports(self) -> set[int]:
        """The ports the `kubernetes` Endpoints list (all apiservers here share 127.0.0.1)."""
        _, endpoints = self.request("GET", "/api/v1/namespaces/default/endpoints/kubernetes")
        return {p["port"] for subset in endpoints.get("subsets") or [] for p in subset["ports"]}

    def kubectl(
        self, *args: str, server: int = 0, stdin: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl with a private HOME (so discovery caches never leak between clusters)."""
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HOME": str(self.home), "KUBECONFIG": str(self.apiservers[server].kubeconfig)}
        result = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
        return result

    def kubectl_json(self, *args: str, server: int = 0) -> dict[str, Any]:
        """kubectl … -o json, parsed."""
        out: dict[str, Any] = json.loads(self.kubectl(*args, "-o", "json", server=server).stdout)
        return out


def cluster_fixture(name: str, *, scope: Literal["function", "module"] = "module", apiservers: int = 1,
                    setup: Callable[[ApiserverCluster], None] = ApiserverCluster.start, store_tls: bool = False) -> Any:
    """A pytest fixture yielding an ``ApiserverCluster`` under a fresh temporary directory named ``name``;
    ``setup`` starts it (by default: the store and ``apiservers`` apiservers) and every process it started
    is stopped at teardown, even when setup fails. Assign it to a module-level name to use it."""

    @pytest.fixture(scope=scope)
    def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiserverCluster]:
        root = tmp_path_factory.mktemp(name)
        procs = Processes(root / "logs")
        try:
            c = ApiserverCluster(procs, free_port, root, apiservers=apiservers, store_tls=store_tls)
            setup(c)
            yield c
        finally:
            procs.stop_all()

    return cluster
