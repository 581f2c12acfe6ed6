"""What every verb needs from the global flags: the resolved kubeconfig, a client, the namespace, discovery.

Everything is built on first use, so a verb that never talks to the server (``config``, ``completion``)
never reads certificates or opens a connection.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tkctl.errors import CliError
from tkctl.flags import duration_seconds

if TYPE_CHECKING:
    from client.blocking import BlockingClient
    from client.kubeconfig import ClientConfig, Kubeconfig
    from client.resources import ResourceInfo
    from tkctl.discovery import Discovery

USER_AGENT = "tkctl/v1.32.0 (linux/amd64) tinykube"


class Session:
    """One invocation's connection state, derived lazily from the global flags."""

    def __init__(self, opts: argparse.Namespace, verb: str) -> None:
        self.opts = opts
        self.verb = verb
        self.out = sys.stdout
        self.err = sys.stderr

    @functools.cached_property
    def kubeconfig(self) -> Kubeconfig:
        from client.kubeconfig import Kubeconfig  # noqa: PLC0415 - startup cost: loaded only when needed
        from tkctl.kubeconfig_cache import cached_reader  # noqa: PLC0415

        return Kubeconfig.load(self.opts.kubeconfig, read=cached_reader(self.cache_root))

    @property
    def cache_root(self) -> Path:
        """``--cache-dir``, else ``$KUBECACHEDIR``, else ``~/.kube/cache`` (as kubectl)."""
        return Path(self.opts.cache_dir or os.environ.get("KUBECACHEDIR") or Path.home() / ".kube" / "cache")

    @functools.cached_property
    def config(self) -> ClientConfig:
        from client.kubeconfig import ClientConfig, KubeconfigError, TLSConfig, TokenSource  # noqa: PLC0415

        o = self.opts
        try:
            if not self.kubeconfig.paths and not o.context:
                # kubectl with no kubeconfig at all talks to http://localhost:8080 (or --server).
                cfg = ClientConfig(servers=[o.server or "http://localhost:8080"],
                                   tls=TLSConfig(insecure=bool(o.insecure_skip_tls_verify)))
            else:
                cfg = self.kubeconfig.client_config(o.context, cluster=o.cluster, user=getattr(o, "user", None),
                                                    namespace=o.namespace, server=o.server)
        except KubeconfigError as exc:
            raise CliError(str(exc)) from exc
        if o.namespace:
            cfg.namespace = o.namespace
        if o.token:
            cfg.token = TokenSource(token=o.token)
        if o.insecure_skip_tls_verify:
            cfg.tls = TLSConfig(insecure=True, cert_data=cfg.tls.cert_data, key_data=cfg.tls.key_data)
        return cfg

    @functools.cached_property
    def client(self) -> BlockingClient:
        from client.blocking import BlockingClient  # noqa: PLC0415

        headers: dict[str, str | list[str]] = {"Kubectl-Command": f"kubectl {self.verb}"}
        if self.opts.as_user:
            headers["Impersonate-User"] = self.opts.as_user
        if self.opts.as_uid:
            headers["Impersonate-Uid"] = self.opts.as_uid
        if self.opts.as_group:
            headers["Impersonate-Group"] = list(self.opts.as_group)
        timeout = duration_seconds(self.opts.request_timeout, "--request-timeout") or None
        return BlockingClient(self.config, user_agent=USER_AGENT, timeout=timeout, headers=headers)

    @property
    def namespace(self) -> str:
        """``-n``, else the context's namespace, else ``default``."""
        return str(self.opts.namespace or self.config.namespace or "default")

    @property
    def explicit_namespace(self) -> bool:
        return bool(self.opts.namespace)

    @functools.cached_property
    def discovery(self) -> Discovery:
        from tkctl.discovery import Discovery  # noqa: PLC0415

        return Discovery(self.client, self.cache_root)

    def resource(self, name: str) -> ResourceInfo:
        """A resource argument resolved against discovery (``po``, ``deploy.apps``, ``Lease``)."""
        return self.discovery.lookup(name)

    def print(self, text: str = "") -> None:
        """One line (or block) on stdout."""
        self.out.write(text + "\n")

    def warn(self, text: str) -> None:
        """One line on stderr."""
        self.err.write(text + "\n")

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()


def qualified_kind(obj: dict[str, Any]) -> str:
    """``deployment.apps`` / ``pod``: how kubectl names an object's type in ``-o name`` and success lines."""
    api_version = str(obj.get("apiVersion") or "")
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    kind = str(obj.get("kind") or "").lower()
    return f"{kind}.{group}" if group else kind
