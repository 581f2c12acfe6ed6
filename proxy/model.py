"""What the proxy programs: service ports and their ready endpoints, as plain values.

The daemon fills these from Services and EndpointSlices; the rule generators only ever see these.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int
    node: str = ""  # the node the endpoint's pod runs on, for externalTrafficPolicy: Local
    ready: bool = True


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service: ``<namespace>/<name>:<port name>``."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # "tcp", "udp", "sctp"
    cluster_ip: str
    port: int
    node_port: int = 0
    session_affinity_seconds: int = 0  # >0: sessionAffinity ClientIP with this timeout
    external_ips: tuple[str, ...] = ()
    local_only: bool = False  # externalTrafficPolicy: Local
    endpoints: tuple[Endpoint, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port_name}"

    @property
    def ready_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(sorted(e for e in self.endpoints if e.ready))
