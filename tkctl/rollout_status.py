"""Rollout progress of deployments, daemon sets and stateful sets, worded as kubectl's status viewers word it.

Pure functions of the object: ``(message, done)``; a ``RolloutFailed`` means it will never finish.
"""

from __future__ import annotations

from typing import Any


class RolloutFailed(Exception):
    """The rollout exceeded its progress deadline (or cannot be watched)."""


def status(kind: str, obj: dict[str, Any], revision: int = 0) -> tuple[str, bool]:
    """What ``rollout status`` prints for ``obj`` now, and whether the rollout is complete."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    st = obj.get("status") or {}
    name = meta.get("name")
    generation = int(meta.get("generation") or 0)
    observed = int(st.get("observedGeneration") or 0)
    if kind == "Deployment":
        if revision:
            current = int((meta.get("annotations") or {}).get("deployment.kubernetes.io/revision") or 0)
            if current != revision:
                raise RolloutFailed(f"desired revision ({revision}) is different from the running revision "
                                    f"({current})")
        if generation > observed:
            return "Waiting for deployment spec update to be observed...\n", False
        for c in st.get("conditions") or []:
            if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
                raise RolloutFailed(f"deployment {name!r} exceeded its progress deadline".replace("'", '"'))
        want = int(spec.get("replicas", 1))
        updated = int(st.get("updatedReplicas") or 0)
        total = int(st.get("replicas") or 0)
        available = int(st.get("availableReplicas") or 0)
        if updated < want:
            return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {want} new replicas have '
                    f"been updated...\n"), False
        if total > updated:
            return (f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are pending '
                    f"termination...\n"), False
        if available < updated:
            return (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas '
                    f"are available...\n"), False
        return f'deployment "{name}" successfully rolled out\n', True
    if kind == "DaemonSet":
        if (spec.get("updateStrategy") or {}).get("type") != "RollingUpdate":
            raise RolloutFailed("rollout status is only available for RollingUpdate strategy type")
        if generation > observed:
            return "Waiting for daemon set spec update to be observed...\n", False
        desired = int(st.get("desiredNumberScheduled") or 0)
        updated = int(st.get("updatedNumberScheduled") or 0)
        available = int(st.get("numberAvailable") or 0)
        if updated < desired:
            return (f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} new pods have '
                    f"been updated...\n"), False
        if available < desired:
            return (f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} updated pods are '
                    f"available...\n"), False
        return f'daemon set "{name}" successfully rolled out\n', True
    if kind == "StatefulSet":
        if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
            raise RolloutFailed("rollout status is only available for RollingUpdate strategy type")
        if generation > observed or not observed:
            return "Waiting for statefulset spec update to be observed...\n", False
        want = int(spec.get("replicas", 1))
        ready = int(st.get("readyReplicas") or 0)
        if ready < want:
            return f"Waiting for {want - ready} pods to be ready...\n", False
        partition = int(((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition") or 0)
        if partition:
            updated = int(st.get("updatedReplicas") or 0)
            if updated < want - partition:
                return (f"Waiting for partitioned roll out to finish: {updated} out of {want - partition} new pods "
                        f"have been updated...\n"), False
            return f"partitioned roll out complete: {updated} new pods have been updated...\n", True
        if st.get("updateRevision") != st.get("currentRevision"):
            return (f"waiting for statefulset rolling update to complete {st.get('updatedReplicas', 0)} pods at "
                    f"revision {st.get('updateRevision')}...\n"), False
        return (f"statefulset rolling update complete {st.get('currentReplicas', 0)} pods at revision "
                f"{st.get('currentRevision')}...\n"), True
    raise RolloutFailed(f"no status viewer has been implemented for {kind}")
