"""Objects kubectl builds itself (generators, ``run``, ``expose``) shaped as its Go types print them.

kubectl prints an object it built client-side from a Go struct, not from an unstructured map: JSON keys
come in struct field order (maps sorted), ``null`` fields are omitted, and every ``ObjectMeta`` carries
``creationTimestamp: null``. ``TYPES`` lists each struct's JSON fields in k8s.io/api order; a field's
``=Type`` names the struct (or ``map``) its value, or each item of its list, is.
"""

from __future__ import annotations

from typing import Any

_TYPE_META = "kind apiVersion"

TYPES: dict[str, str] = {
    "ObjectMeta": "name generateName namespace selfLink uid resourceVersion generation creationTimestamp "
                  "deletionTimestamp deletionGracePeriodSeconds labels=map annotations=map "
                  "ownerReferences=OwnerReference finalizers managedFields",
    "OwnerReference": "apiVersion kind name uid controller blockOwnerDeletion",
    "LabelSelector": "matchLabels=map matchExpressions",
    "Deployment": "metadata=ObjectMeta spec=DeploymentSpec status",
    "DeploymentSpec": "replicas selector=LabelSelector template=PodTemplateSpec strategy=DeploymentStrategy "
                      "minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds",
    "DeploymentStrategy": "type rollingUpdate",
    "PodTemplateSpec": "metadata=ObjectMeta spec=PodSpec",
    "Pod": "metadata=ObjectMeta spec=PodSpec status",
    "PodSpec": "volumes=Volume initContainers=Container containers=Container ephemeralContainers=Container "
               "restartPolicy terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy nodeSelector=map "
               "serviceAccountName serviceAccount automountServiceAccountToken nodeName hostNetwork hostPID "
               "hostIPC shareProcessNamespace securityContext imagePullSecrets hostname subdomain affinity "
               "schedulerName tolerations=Toleration hostAliases priorityClassName priority dnsConfig "
               "readinessGates runtimeClassName enableServiceLinks preemptionPolicy overhead=map "
               "topologySpreadConstraints setHostnameAsFQDN os hostUsers schedulingGates resourceClaims resources",
    "Volume": "name",
    "Container": "name image command args workingDir ports=ContainerPort envFrom env=EnvVar "
                 "resources=ResourceRequirements resizePolicy restartPolicy volumeMounts=VolumeMount volumeDevices "
                 "livenessProbe readinessProbe startupProbe lifecycle terminationMessagePath "
                 "terminationMessagePolicy imagePullPolicy securityContext stdin stdinOnce tty",
    "ContainerPort": "name hostPort containerPort protocol hostIP",
    "EnvVar": "name value valueFrom",
    "ResourceRequirements": "limits=map requests=map claims",
    "VolumeMount": "name readOnly recursiveReadOnly mountPath subPath mountPropagation subPathExpr",
    "Toleration": "key operator value effect tolerationSeconds",
    "ConfigMap": "metadata=ObjectMeta immutable data=map binaryData=map",
    "Secret": "metadata=ObjectMeta immutable data=map stringData=map type",
    "Namespace": "metadata=ObjectMeta spec status",
    "ServiceAccount": "metadata=ObjectMeta secrets imagePullSecrets automountServiceAccountToken",
    "Service": "metadata=ObjectMeta spec=ServiceSpec status",
    "ServiceSpec": "ports=ServicePort selector=map clusterIP clusterIPs type externalIPs sessionAffinity "
                   "loadBalancerIP loadBalancerSourceRanges externalName externalTrafficPolicy healthCheckNodePort "
                   "publishNotReadyAddresses sessionAffinityConfig ipFamilies ipFamilyPolicy "
                   "allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution",
    "ServicePort": "name protocol appProtocol port targetPort nodePort",
    "Job": "metadata=ObjectMeta spec=JobSpec status",
    "JobSpec": "parallelism completions activeDeadlineSeconds podFailurePolicy successPolicy backoffLimit "
               "backoffLimitPerIndex maxFailedIndexes selector=LabelSelector manualSelector template=PodTemplateSpec "
               "ttlSecondsAfterFinished completionMode suspend podReplacementPolicy managedBy",
    "CronJob": "metadata=ObjectMeta spec=CronJobSpec status",
    "CronJobSpec": "schedule timeZone startingDeadlineSeconds concurrencyPolicy suspend jobTemplate=JobTemplateSpec "
                   "successfulJobsHistoryLimit failedJobsHistoryLimit",
    "JobTemplateSpec": "metadata=ObjectMeta spec=JobSpec",
    "Role": "metadata=ObjectMeta rules=PolicyRule",
    "ClusterRole": "metadata=ObjectMeta rules=PolicyRule aggregationRule",
    "PolicyRule": "verbs apiGroups resources resourceNames nonResourceURLs",
    "RoleBinding": "metadata=ObjectMeta subjects=Subject roleRef=RoleRef",
    "ClusterRoleBinding": "metadata=ObjectMeta subjects=Subject roleRef=RoleRef",
    "Subject": "kind apiGroup name namespace",
    "RoleRef": "apiGroup kind name",
}


def _fields(type_name: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for token in TYPES[type_name].split():
        name, _, sub = token.partition("=")
        out.append((name, sub or None))
    return out


_FIELDS = {name: _fields(name) for name in TYPES}


def typed(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as kubectl's Go type for its kind would print it; kinds not listed come back unchanged."""
    kind = str(obj.get("kind", ""))
    if kind not in _FIELDS:
        return obj
    head = {k: obj[k] for k in _TYPE_META.split() if obj.get(k) is not None}
    return {**head, **_struct({k: v for k, v in obj.items() if k not in head}, kind)}


def _struct(value: dict[str, Any], type_name: str) -> dict[str, Any]:
    fields = _FIELDS[type_name]
    known = {name for name, _ in fields}
    out: dict[str, Any] = {}
    for name, sub in fields:
        if name == "creationTimestamp" and type_name == "ObjectMeta":
            out[name] = value.get(name)  # a zero metav1.Time marshals as null, never omitted
        elif value.get(name) is not None:
            out[name] = _value(value[name], sub)
    for name in sorted(set(value) - known):
        if value[name] is not None:
            out[name] = value[name]
    return out


def _value(value: Any, sub: str | None) -> Any:
    if isinstance(value, list):
        return [_value(item, sub) for item in value]
    if not isinstance(value, dict) or sub is None:
        return value
    if sub == "map":
        return dict(sorted(value.items()))
    return _struct(value, sub)
