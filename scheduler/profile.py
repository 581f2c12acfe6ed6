"""Scheduling profiles: kube-scheduler's default plugin set, and the KubeSchedulerConfiguration subset we read.

A profile names the scheduler (`spec.schedulerName` selects it), lists plugins in the order their filters
run, their score weights, per-extension-point disables, plugin arguments and percentageOfNodesToScore.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from scheduler.framework import Framework, Nominations, Plugin
from scheduler.plugins.balanced_allocation import BalancedAllocation
from scheduler.plugins.default_binder import DefaultBinder
from scheduler.plugins.image_locality import ImageLocality
from scheduler.plugins.inter_pod_affinity import InterPodAffinity
from scheduler.plugins.node_affinity import NodeAffinity
from scheduler.plugins.node_name import NodeName
from scheduler.plugins.node_ports import NodePorts
from scheduler.plugins.node_resources_fit import NodeResourcesFit
from scheduler.plugins.node_unschedulable import NodeUnschedulable
from scheduler.plugins.pod_topology_spread import PodTopologySpread
from scheduler.plugins.scheduling_gates import SchedulingGates
from scheduler.plugins.taint_toleration import TaintToleration
from scheduler.plugins.volume_binding import VolumeBinding
from scheduler.preemption import DefaultPreemption

DEFAULT_SCHEDULER_NAME: Final = "default-scheduler"

REGISTRY: Final[Mapping[str, Callable[[Mapping[str, Any]], Plugin]]] = {
    SchedulingGates.name: lambda _args: SchedulingGates(),
    NodeUnschedulable.name: lambda _args: NodeUnschedulable(),
    NodeName.name: lambda _args: NodeName(),
    TaintToleration.name: lambda _args: TaintToleration(),
    NodeAffinity.name: lambda _args: NodeAffinity(),
    NodePorts.name: lambda _args: NodePorts(),
    NodeResourcesFit.name: NodeResourcesFit,
    VolumeBinding.name: lambda _args: VolumeBinding(),
    PodTopologySpread.name: PodTopologySpread,
    InterPodAffinity.name: lambda args: InterPodAffinity(int(args.get("hardPodAffinityWeight", 1))),
    DefaultPreemption.name: lambda _args: DefaultPreemption(),
    BalancedAllocation.name: BalancedAllocation,
    ImageLocality.name: lambda _args: ImageLocality(),
    DefaultBinder.name: lambda _args: DefaultBinder(),
}

# kube-scheduler's default profile, in its filter order, with its score weights. PrioritySort is the
# queue's ordering (scheduler/queue.py) rather than a plugin here.
DEFAULT_PLUGINS: Final = (
    ("SchedulingGates", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeBinding", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
)
EXTENSION_POINTS: Final = frozenset(
    ("preEnqueue", "preFilter", "filter", "postFilter", "preScore", "score", "reserve", "permit", "preBind", "bind")
)
# Plugins kube-scheduler has that this scheduler does not implement; configurations may name them.
_KNOWN_ABSENT: Final = frozenset(
    (
        "PrioritySort",
        "VolumeRestrictions",
        "NodeVolumeLimits",
        "VolumeZone",
        "EBSLimits",
        "GCEPDLimits",
        "AzureDiskLimits",
        "DynamicResources",
        "NodeDeclaredFeatures",
    )
)


class ProfileError(ValueError):
    """A configuration the scheduler cannot run; the message names the profile and the offending entry."""


@dataclass(slots=True)
class Profile:
    """One scheduler profile, ready to `build()` into a Framework."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    plugins: list[str] = field(default_factory=lambda: [name for name, _ in DEFAULT_PLUGINS])
    weights: dict[str, int] = field(default_factory=lambda: {n: w for n, w in DEFAULT_PLUGINS if w})
    disabled: dict[str, set[str]] = field(default_factory=dict)
    args: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    percentage_of_nodes_to_score: int = 0

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], percentage_of_nodes_to_score: int = 0) -> Profile:
        """Apply one `profiles[]` entry of a KubeSchedulerConfiguration on top of the default profile."""
        profile = cls(scheduler_name=raw.get("schedulerName") or DEFAULT_SCHEDULER_NAME)
        pct = raw.get("percentageOfNodesToScore")
        profile.percentage_of_nodes_to_score = int(pct if pct is not None else percentage_of_nodes_to_score)
        plugin_sets = raw.get("plugins") or {}
        for point, plugin_set in plugin_sets.items():
            if point != "multiPoint" and point not in EXTENSION_POINTS and point != "queueSort":
                raise ProfileError(f"profile {profile.scheduler_name!r}: unknown extension point {point!r}")
            profile._apply(point, plugin_set or {})
        for entry in raw.get("pluginConfig") or ():
            name = entry.get("name", "")
            if name not in REGISTRY and name not in _KNOWN_ABSENT:
                raise ProfileError(f"profile {profile.scheduler_name!r}: pluginConfig for unknown plugin {name!r}")
            profile.args[name] = entry.get("args") or {}
        return profile

    def _apply(self, point: str, plugin_set: Mapping[str, Any]) -> None:
        for entry in plugin_set.get("disabled") or ():
            name = entry.get("name", "")
            targets = list(self.plugins) if name == "*" else [name]
            for target in targets:
                if point == "multiPoint":
                    if target in self.plugins:
                        self.plugins.remove(target)
                else:
                    self.disabled.setdefault(target, set()).add(point)
        for entry in plugin_set.get("enabled") or ():
            name = entry.get("name", "")
            if name in _KNOWN_ABSENT:
                continue
            if name not in REGISTRY:
                raise ProfileError(f"profile {self.scheduler_name!r}: unknown plugin {name!r} in {point}")
            if name not in self.plugins:
                self.plugins.append(name)
            self.disabled.get(name, set()).discard(point)
            if point == "multiPoint":
                self.disabled.pop(name, None)
            if "weight" in entry and point in ("score", "multiPoint"):
                self.weights[name] = int(entry["weight"])

    def build(self, rng: random.Random | None = None, nominator: Nominations | None = None) -> Framework:
        """Instantiate the plugins into a Framework."""
        plugins = [REGISTRY[name](self.args.get(name) or {}) for name in self.plugins]
        return Framework(
            self.scheduler_name,
            plugins,
            self.weights,
            percentage_of_nodes_to_score=self.percentage_of_nodes_to_score,
            rng=rng,
            nominator=nominator,
            disabled={name: frozenset(points) for name, points in self.disabled.items()},
        )


def profiles_from_configuration(config: Mapping[str, Any] | None) -> list[Profile]:
    """Profiles of a KubeSchedulerConfiguration (the default profile when it lists none)."""
    config = config or {}
    pct = int(config.get("percentageOfNodesToScore") or 0)
    raw_profiles: Sequence[Mapping[str, Any]] = config.get("profiles") or ()
    if not raw_profiles:
        return [Profile(percentage_of_nodes_to_score=pct)]
    profiles = [Profile.from_config(p, pct) for p in raw_profiles]
    names = [p.scheduler_name for p in profiles]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ProfileError(f"duplicate profile schedulerName(s): {', '.join(duplicates)}")
    return profiles
