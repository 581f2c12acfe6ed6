"""ClusterIPs and NodePorts for Services, reserved through store transactions.

Each address or port in use has a key (`/registry/ranges/serviceips/<ip>`, `/registry/ranges/servicenodeports/<port>`)
created in the same transaction as the Service itself, on `create_revision == 0`. Two apiservers
picking the same value concurrently cannot both succeed: the loser's transaction fails and it picks
again. Deleting the Service deletes its keys in the same transaction.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

from api.errors import Cause, invalid, not_supported
from api.schema import JSON
from protos.etcd import rpc_pb2
from store import client as store

IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"


@dataclass
class Reservation:
    """Keys a Service write must create (compares + puts) and may release (deletes)."""

    compares: list[rpc_pb2.Compare] = field(default_factory=list)
    puts: list[rpc_pb2.RequestOp] = field(default_factory=list)
    user_chosen: bool = False

    def reserve(self, key: str, owner: str) -> None:
        """Claim `key` for the service `owner` (namespace/name)."""
        self.compares.append(store.compare_create(key, "==", 0))
        self.puts.append(store.op_put(key, owner))


def service_keys(svc: JSON) -> list[str]:
    """The reservation keys a stored Service holds."""
    spec = svc.get("spec") or {}
    keys = [IP_PREFIX + ip for ip in spec.get("clusterIPs") or [] if ip and ip != "None"]
    keys += [PORT_PREFIX + str(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")]
    return keys


class Allocators:
    """Picks free values; the store transaction is what makes a pick final."""

    def __init__(self, client: store.StoreClient, service_cidr: str, node_ports: str) -> None:
        self.client = client
        self.network = ipaddress.ip_network(service_cidr)
        low, _, high = node_ports.partition("-")
        self.ports = range(int(low), int(high or low) + 1)

    @property
    def first_ip(self) -> str:
        """The address of the `kubernetes` Service (the range's first usable address)."""
        return str(self.network.network_address + 1)

    async def _taken(self, prefix: str) -> set[str]:
        resp = await self.client.range(prefix, prefix=True, keys_only=True)
        return {kv.key.decode()[len(prefix) :] for kv in resp.kvs}

    async def plan(self, svc: dict[str, JSON], old: JSON | None = None) -> tuple[Reservation, list[Cause]]:
        """Fill the Service's missing clusterIP and nodePorts; returns the keys to claim and any invalid choices."""
        spec = svc.setdefault("spec", {})
        assert isinstance(spec, dict)
        old_spec = (old or {}).get("spec") or {}
        owner = f"{(svc.get('metadata') or {}).get('namespace', '')}/{(svc.get('metadata') or {}).get('name', '')}"
        res, causes = Reservation(), []
        kind = spec.get("type") or "ClusterIP"
        if kind != "ExternalName":
            ip = spec.get("clusterIP") or ""
            if old is not None and old_spec.get("clusterIP"):
                ip = ip or old_spec["clusterIP"]
            elif ip and ip != "None":
                try:
                    if ipaddress.ip_address(ip) not in self.network:
                        causes.append(
                            invalid(
                                "spec.clusterIPs[0]",
                                ip,
                                f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. "
                                f"The range of valid IPs is {self.network}",
                            )
                        )
                    else:
                        res.reserve(IP_PREFIX + ip, owner)
                        res.user_chosen = True
                except ValueError:
                    causes.append(invalid("spec.clusterIPs[0]", ip, "must be a valid IP address"))
            elif not ip:
                taken = await self._taken(IP_PREFIX)
                ip = self._pick_ip(taken)
                res.reserve(IP_PREFIX + ip, owner)
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        if kind in ("NodePort", "LoadBalancer"):
            old_ports = {
                (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                for p in old_spec.get("ports") or []
                if p.get("nodePort")
            }
            taken_ports: set[str] | None = None
            for i, port in enumerate(spec.get("ports") or []):
                wanted = port.get("nodePort")
                kept = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
                if wanted and wanted == kept:
                    continue
                if not wanted and kept:
                    port["nodePort"] = kept
                    continue
                if wanted:
                    if wanted not in self.ports:
                        causes.append(
                            invalid(
                                f"spec.ports[{i}].nodePort",
                                wanted,
                                "provided port is not in the valid range. The range of valid ports is "
                                f"{self.ports.start}-{self.ports.stop - 1}",
                            )
                        )
                        continue
                    res.reserve(PORT_PREFIX + str(wanted), owner)
                    res.user_chosen = True
                    continue
                if taken_ports is None:
                    taken_ports = await self._taken(PORT_PREFIX)
                chosen = self._pick_port(taken_ports)
                taken_ports.add(str(chosen))
                port["nodePort"] = chosen
                res.reserve(PORT_PREFIX + str(chosen), owner)
        elif kind not in ("ClusterIP", "ExternalName"):
            causes.append(not_supported("spec.type", kind, ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]))
        return res, causes

    def _pick_ip(self, taken: set[str]) -> str:
        size = self.network.num_addresses
        # Skip the network address and the first host (the `kubernetes` Service's); start at random so
        # concurrent apiservers rarely collide.
        start = random.randrange(2, max(size - 1, 3))
        for offset in range(size):
            candidate = 2 + (start - 2 + offset) % max(size - 3, 1)
            ip = str(self.network.network_address + candidate)
            if ip not in taken:
                return ip
        raise RangeFull(f"no IP addresses available in range {self.network}")

    def _pick_port(self, taken: set[str]) -> int:
        start = random.randrange(len(self.ports))
        for offset in range(len(self.ports)):
            port = self.ports[(start + offset) % len(self.ports)]
            if str(port) not in taken:
                return port
        raise RangeFull(f"no node ports available in range {self.ports.start}-{self.ports.stop - 1}")


class RangeFull(Exception):
    """Every value of the range is in use."""
