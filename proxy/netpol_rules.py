"""NetworkPolicy as iptables rules for the pods of one node (networking.k8s.io/v1 semantics).

A pod selected by a policy of a given type (Ingress, Egress) is isolated in that direction: only what
the union of those policies' rules allows gets through; replies to allowed connections pass by
conntrack. Each node enforces its own pods: egress where the sender lives, ingress where the receiver
lives, so a connection between two nodes passes both checks exactly once. Pure: objects in, chains out.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from api import labels
from proxy.iptables_rules import Tables

ROOT = "TK-NETPOL"
ALLOW_MARK = "0x10000/0x10000"
HOOKS = (("filter", "FORWARD", ROOT, "tinykube network policies"),)


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    ip: str
    node: str
    labels: Mapping[str, str] = field(default_factory=dict)
    # Named container ports: name -> (port, protocol), for policies that name their ports.
    named_ports: Mapping[str, tuple[int, str]] = field(default_factory=dict)


def _chain(kind: str, *parts: str) -> str:
    return f"TK-NP-{kind}-" + hashlib.sha256("/".join(parts).encode()).hexdigest()[:16].upper()


def _selects(policy: Mapping[str, Any], pod: Pod) -> bool:
    meta = policy.get("metadata", {})
    return pod.namespace == meta.get("namespace") and labels.matches(policy.get("spec", {}).get("podSelector", {}),
                                                                     pod.labels)


def policy_types(policy: Mapping[str, Any]) -> set[str]:
    """Kubernetes' default: Ingress always, Egress when the policy has egress rules."""
    spec = policy.get("spec", {})
    if spec.get("policyTypes"):
        return set(spec["policyTypes"])
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def _peer_pods(peer: Mapping[str, Any], policy_ns: str, pods: Iterable[Pod],
               namespaces: Mapping[str, Mapping[str, str]]) -> list[Pod]:
    pod_sel = peer.get("podSelector")
    ns_sel = peer.get("namespaceSelector")
    out = []
    for pod in pods:
        if ns_sel is None:
            in_scope = pod.namespace == policy_ns
        else:
            in_scope = labels.matches(ns_sel, namespaces.get(pod.namespace, {}))
        if in_scope and (pod_sel is None or labels.matches(pod_sel, pod.labels)):
            out.append(pod)
    return out


def _port_matches(ports: list[Mapping[str, Any]], named_from: Pod | None) -> list[str] | None:
    """iptables matches for a rule's ports; [] means every port; None means the rule can match nothing here
    (all of its ports are names the pod does not have)."""
    if not ports:
        return [""]
    out = []
    for p in ports:
        proto = str(p.get("protocol", "TCP")).lower()
        port = p.get("port")
        if port is None:
            out.append(f"-p {proto}")
            continue
        if isinstance(port, str) and not port.isdigit():
            if named_from is None or port not in named_from.named_ports:
                continue
            number, named_proto = named_from.named_ports[port]
            if named_proto.lower() != proto:
                continue
            port = number
        end = p.get("endPort")
        dport = f"{port}:{end}" if end else f"{port}"
        out.append(f"-p {proto} -m {proto} --dport {dport}")
    return out or None


def _rule(*parts: str) -> str:
    return " ".join(x for x in parts if x)


def _rules_for(pod: Pod, direction: str, *, policies: list[Mapping[str, Any]], pods: list[Pod],
               namespaces: Mapping[str, Mapping[str, str]], t: Tables) -> list[str]:
    """Rules that set the allow mark for traffic ``direction`` ("ingress"/"egress") of ``pod``."""
    addr = "-s" if direction == "ingress" else "-d"
    allow = f"-j MARK --set-xmark {ALLOW_MARK}"
    rules: list[str] = []
    for policy in policies:
        for i, rule in enumerate(policy.get("spec", {}).get(direction) or []):
            peers = rule.get("from" if direction == "ingress" else "to") or []
            ports = rule.get("ports") or []
            if not peers:  # every source/destination, on these ports
                matches = _port_matches(ports, pod if direction == "ingress" else None)
                rules += [_rule(m, allow) for m in matches or []]
                continue
            for peer in peers:
                if "ipBlock" in peer:
                    block = peer["ipBlock"]
                    sub = _chain("IPB", pod.namespace, pod.name, direction, policy["metadata"]["name"], str(i),
                                 block["cidr"])
                    t.filter[sub] = [f"{addr} {ex} -j RETURN" for ex in block.get("except") or []] + [allow]
                    for m in _port_matches(ports, pod if direction == "ingress" else None) or []:
                        rules.append(_rule(addr, str(ipaddress.ip_network(block["cidr"], strict=False)), m, "-j", sub))
                    continue
                ns = policy["metadata"]["namespace"]
                for other in _peer_pods(peer, ns, pods, namespaces):
                    named_from = pod if direction == "ingress" else other
                    for m in _port_matches(ports, named_from) or []:
                        rules.append(_rule(addr, f"{other.ip}/32", m, allow))
    return rules


def build(policies: Iterable[Mapping[str, Any]], pods: Iterable[Pod],
          namespaces: Mapping[str, Mapping[str, str]], node: str) -> Tables:
    """The filter chains for the pods on ``node``; ``namespaces`` maps namespace names to their labels."""
    policies = list(policies)
    all_pods = [p for p in pods if p.ip]
    t = Tables()
    # Replies to allowed connections pass; RETURN, not ACCEPT, so FORWARD's other rules still see them.
    root = ["-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"]
    for pod in sorted((p for p in all_pods if p.node == node), key=lambda p: (p.namespace, p.name)):
        selecting = [p for p in policies if _selects(p, pod)]
        for direction, ptype, match in (("egress", "Egress", "-s"), ("ingress", "Ingress", "-d")):
            applying = [p for p in selecting if ptype in policy_types(p)]
            if not applying:
                continue
            chain = _chain(direction[0].upper(), pod.namespace, pod.name)
            t.filter[chain] = [
                f"-j MARK --set-xmark 0x0/{ALLOW_MARK.split('/')[1]}",
                *_rules_for(pod, direction, policies=applying, pods=all_pods, namespaces=namespaces, t=t),
                f"-m mark --mark {ALLOW_MARK} -j RETURN",
                f'-m comment --comment "{pod.namespace}/{pod.name} {direction} isolated" -j DROP',
            ]
            root.append(f"{match} {pod.ip}/32 -j {chain}")
    t.filter[ROOT] = root
    return t
