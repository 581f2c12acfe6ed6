"""Names and addresses of a local cluster, derived from its name, node count and subnet index.

Pure data (no I/O): the underlay, the supervisor, certificates and `tinykube status` all read the
same answers from here, so an address is decided in exactly one place (ARCHITECTURE.md §2).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

# Interface names hold 15 characters: "<name>-br" and "<name>-h" must fit.
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,11}$")
# A node's underlay port is "veth-<node>" in the infra namespace: 15 characters at most.
_NODE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,9}$")
MAX_NODE_INDEX = 200
UNDERLAY_PREFIX = "172.28"
POD_CIDR_PREFIX = "10.244"
SERVICE_CIDR = "10.96.0.0/12"
APISERVER_PORT = 6443
REGISTRY_PORT = 5000


class TopologyError(ValueError):
    """A cluster name or size that cannot be laid out."""


def validate_name(name: str) -> str:
    if not _NAME.match(name) or name.endswith("-"):
        raise TopologyError(f"invalid cluster name {name!r}: use 1-12 lowercase letters, digits and '-', "
                            "starting with a letter")
    return name


@dataclass(frozen=True)
class Node:
    """One node of the cluster: a network namespace with its own underlay address."""

    index: int
    name: str
    netns: str
    ip: str
    control_plane: bool

    @property
    def pod_cidr(self) -> str:
        return f"{POD_CIDR_PREFIX}.{self.index}.0/24"


@dataclass(frozen=True)
class Topology:
    """Every name and address of cluster ``name`` laid out on underlay subnet ``172.28.<subnet>.0/24``."""

    name: str
    subnet: int
    nodes: tuple[Node, ...] = field(default=())

    @classmethod
    def build(cls, name: str, subnet: int, node_count: int = 3, control_plane_count: int = 3) -> Topology:
        validate_name(name)
        if not 1 <= subnet <= 254:
            raise TopologyError(f"subnet index {subnet} outside 1-254")
        if not 1 <= node_count <= MAX_NODE_INDEX:
            raise TopologyError(f"node count {node_count} outside 1-200")
        if not 1 <= control_plane_count <= node_count or control_plane_count % 2 == 0:
            raise TopologyError(f"control-plane node count must be odd and at most {node_count}, "
                                f"not {control_plane_count}")
        nodes = tuple(
            Node(index=i, name=f"node{i}", netns=f"{name}-node{i}", ip=f"{UNDERLAY_PREFIX}.{subnet}.{10 + i}",
                 control_plane=i <= control_plane_count)
            for i in range(1, node_count + 1)
        )
        return cls(name=name, subnet=subnet, nodes=nodes)

    @property
    def infra_netns(self) -> str:
        return f"{self.name}-infra"

    @property
    def bridge(self) -> str:
        return f"{self.name}-br"

    @property
    def host_link(self) -> str:
        """The root namespace's end of the one veth pair into the underlay."""
        return f"{self.name}-h"

    @property
    def gateway_ip(self) -> str:
        """The infra namespace's address: haproxy and the registry listen here."""
        return f"{UNDERLAY_PREFIX}.{self.subnet}.1"

    @property
    def host_ip(self) -> str:
        return f"{UNDERLAY_PREFIX}.{self.subnet}.254"

    @property
    def prefixlen(self) -> int:
        return 24

    @property
    def apiserver_url(self) -> str:
        return f"https://{self.gateway_ip}:{APISERVER_PORT}"

    @property
    def registry(self) -> str:
        return f"{self.gateway_ip}:{REGISTRY_PORT}"

    @property
    def control_plane(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.control_plane)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise TopologyError(f"cluster {self.name!r} has no node {name!r} "
                            f"(nodes: {', '.join(n.name for n in self.nodes)})")

    def with_worker(self, name: str) -> Topology:
        """This topology plus worker ``name`` on the next free index (its address and pod subnet follow)."""
        if not _NODE_NAME.match(name) or name.endswith("-"):
            raise TopologyError(f"invalid node name {name!r}: use 1-10 lowercase letters, digits and '-', "
                                "starting with a letter")
        if any(n.name == name for n in self.nodes):
            raise TopologyError(f"cluster {self.name!r} already has a node {name!r}")
        index = max((n.index for n in self.nodes), default=0) + 1
        if index > MAX_NODE_INDEX:
            raise TopologyError(f"cluster {self.name!r} has no node index left (at most {MAX_NODE_INDEX})")
        node = Node(index=index, name=name, netns=f"{self.name}-{name}",
                    ip=f"{UNDERLAY_PREFIX}.{self.subnet}.{10 + index}", control_plane=False)
        return Topology(self.name, self.subnet, (*self.nodes, node))

    def without_worker(self, name: str) -> Topology:
        """This topology less worker ``name``; control-plane nodes stay (the store's membership is fixed)."""
        if self.node(name).control_plane:
            raise TopologyError(f"{name} is a control-plane node of cluster {self.name!r}; only workers can be removed")
        return Topology(self.name, self.subnet, tuple(n for n in self.nodes if n.name != name))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Topology:
        return cls(name=data["name"], subnet=data["subnet"], nodes=tuple(Node(**n) for n in data["nodes"]))


def free_subnet(used: set[int]) -> int:
    """The lowest underlay subnet index not used by another cluster on this machine."""
    for index in range(1, 255):
        if index not in used:
            return index
    raise TopologyError("all 254 underlay subnets 172.28.1-254.0/24 are in use")
