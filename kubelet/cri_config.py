"""From a pod to CRI requests: the sandbox config and each container's config (pure; protobuf out).

Labels and annotations use Kubernetes' keys (``io.kubernetes.pod.uid``, ``io.kubernetes.container.hash``…)
so the kubelet can rebuild its view from the runtime alone after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kubelet.cgroups_plan import CgroupResources, pod_resources
from kubelet.volumes.manager import Mount
from protos.cri import api_pb2 as cri

POD_NAME: Final = "io.kubernetes.pod.name"
POD_NAMESPACE: Final = "io.kubernetes.pod.namespace"
POD_UID: Final = "io.kubernetes.pod.uid"
CONTAINER_NAME: Final = "io.kubernetes.container.name"
CONTAINER_HASH: Final = "io.kubernetes.container.hash"
CONTAINER_RESTART_COUNT: Final = "io.kubernetes.container.restartCount"
HOSTNAME_MAX: Final = 63


@dataclass(frozen=True)
class DNSSettings:
    """--cluster-dns and --cluster-domain."""

    servers: tuple[str, ...] = ()
    domain: str = "cluster.local"


def dns_config(pod: Mapping[str, Any], dns: DNSSettings) -> cri.DNSConfig | None:
    """The pod's resolv.conf as Kubernetes computes it from dnsPolicy and dnsConfig (None: the host's)."""
    spec = pod.get("spec") or {}
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    policy = spec.get("dnsPolicy", "ClusterFirst")
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and dns.servers:
        servers = list(dns.servers)
        searches = [f"{namespace}.svc.{dns.domain}", f"svc.{dns.domain}", dns.domain]
        options = ["ndots:5"]
    elif policy not in ("Default", "None", "ClusterFirst", "ClusterFirstWithHostNet"):
        raise ValueError(f"unsupported dnsPolicy {policy!r}")
    extra = spec.get("dnsConfig") or {}
    servers += [s for s in extra.get("nameservers") or [] if s not in servers]
    searches += [s for s in extra.get("searches") or [] if s not in searches]
    for opt in extra.get("options") or []:
        text = opt["name"] + (f":{opt['value']}" if opt.get("value") is not None else "")
        options = [o for o in options if o.split(":")[0] != opt["name"]] + [text]
    if not (servers or searches or options):
        return None
    return cri.DNSConfig(servers=servers, searches=searches, options=options)


def pod_hostname(pod: Mapping[str, Any]) -> str:
    """The pod's hostname: spec.hostname or its name, cut to 63 characters."""
    spec = pod.get("spec") or {}
    name = spec.get("hostname") or (pod.get("metadata") or {}).get("name", "")
    return str(name)[:HOSTNAME_MAX].rstrip("-.")


def _namespace_options(pod: Mapping[str, Any], container_level: bool) -> cri.NamespaceOption:
    spec = pod.get("spec") or {}
    network = cri.NODE if spec.get("hostNetwork") else cri.POD
    pid = cri.NODE if spec.get("hostPID") else cri.POD if spec.get("shareProcessNamespace") else cri.CONTAINER
    ipc = cri.NODE if spec.get("hostIPC") else cri.POD
    if not container_level and pid == cri.CONTAINER:
        pid = cri.POD
    return cri.NamespaceOption(network=network, pid=pid, ipc=ipc)


def sandbox_config(pod: Mapping[str, Any], attempt: int, *, dns: DNSSettings, log_directory: str,
                   cgroup_parent: str) -> cri.PodSandboxConfig:
    """RunPodSandbox's config."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    labels = {**(meta.get("labels") or {}), POD_NAME: meta.get("name", ""),
              POD_NAMESPACE: meta.get("namespace", ""), POD_UID: meta.get("uid", "")}
    ports = []
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                ports.append(cri.PortMapping(protocol=getattr(cri, p.get("protocol", "TCP")),
                                             container_port=int(p["containerPort"]),
                                             host_port=int(p["hostPort"]), host_ip=p.get("hostIP", "")))
    security = spec.get("securityContext") or {}
    sandbox_security = cri.LinuxSandboxSecurityContext(
        namespace_options=_namespace_options(pod, container_level=False),
        supplemental_groups=[int(g) for g in security.get("supplementalGroups") or []])
    if security.get("runAsUser") is not None:
        sandbox_security.run_as_user.value = int(security["runAsUser"])
    config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=meta.get("name", ""), uid=meta.get("uid", ""),
                                        namespace=meta.get("namespace", ""), attempt=attempt),
        hostname="" if spec.get("hostNetwork") else pod_hostname(pod),
        log_directory=log_directory,
        port_mappings=ports,
        labels=labels,
        annotations=dict(meta.get("annotations") or {}),
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent=cgroup_parent, security_context=sandbox_security,
            sysctls={s["name"]: str(s.get("value", "")) for s in security.get("sysctls") or []},
            resources=_linux_resources(pod_resources(pod))),
    )
    dns_cfg = dns_config(pod, dns)
    if dns_cfg is not None:
        config.dns_config.CopyFrom(dns_cfg)
    return config


def _linux_resources(res: CgroupResources) -> cri.LinuxContainerResources:
    return cri.LinuxContainerResources(cpu_period=res.cpu_period, cpu_quota=res.cpu_quota, cpu_shares=res.cpu_shares,
                                       memory_limit_in_bytes=res.memory_limit_in_bytes,
                                       oom_score_adj=res.oom_score_adj, cpuset_cpus=res.cpuset_cpus)


def _security(pod: Mapping[str, Any], container: Mapping[str, Any]) -> cri.LinuxContainerSecurityContext:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    sc = container.get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    out = cri.LinuxContainerSecurityContext(
        capabilities=cri.Capability(add_capabilities=list(caps.get("add") or []),
                                    drop_capabilities=list(caps.get("drop") or [])),
        privileged=bool(sc.get("privileged")),
        namespace_options=_namespace_options(pod, container_level=True),
        readonly_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        supplemental_groups=[int(g) for g in pod_sc.get("supplementalGroups") or []],
        no_new_privs=sc.get("allowPrivilegeEscalation") is False,
    )
    user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if user is not None:
        out.run_as_user.value = int(user)
    group = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    if group is not None:
        out.run_as_group.value = int(group)
    return out


@dataclass(frozen=True)
class ContainerInputs:
    """What the worker resolved for one container before creating it."""

    attempt: int
    image_ref: str
    command: Sequence[str]
    args: Sequence[str]
    env: Sequence[tuple[str, str]]
    mounts: Sequence[Mount]
    resources: CgroupResources
    spec_hash: str
    log_path: str


def container_config(pod: Mapping[str, Any], container: Mapping[str, Any], inputs: ContainerInputs
                     ) -> cri.ContainerConfig:
    """CreateContainer's config."""
    meta = pod.get("metadata") or {}
    res = inputs.resources
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=container.get("name", ""), attempt=inputs.attempt),
        image=cri.ImageSpec(image=inputs.image_ref, user_specified_image=container.get("image", "")),
        command=list(inputs.command),
        args=list(inputs.args),
        working_dir=container.get("workingDir", ""),
        envs=[cri.KeyValue(key=k, value=v) for k, v in inputs.env],
        mounts=[cri.Mount(container_path=m.container_path, host_path=m.host_path, readonly=m.read_only)
                for m in inputs.mounts],
        labels={POD_NAME: meta.get("name", ""), POD_NAMESPACE: meta.get("namespace", ""),
                POD_UID: meta.get("uid", ""), CONTAINER_NAME: container.get("name", "")},
        annotations={CONTAINER_HASH: inputs.spec_hash, CONTAINER_RESTART_COUNT: str(inputs.attempt)},
        log_path=inputs.log_path,
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        linux=cri.LinuxContainerConfig(resources=_linux_resources(res), security_context=_security(pod, container)),
    )


def etc_hosts(pod: Mapping[str, Any], pod_ip: str, dns: DNSSettings) -> str:
    """The /etc/hosts the kubelet writes for a pod (not for host-network pods, which see the node's)."""
    spec = pod.get("spec") or {}
    name = pod_hostname(pod)
    lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    if pod_ip:
        if spec.get("subdomain"):
            namespace = (pod.get("metadata") or {}).get("namespace", "default")
            fqdn = f"{name}.{spec['subdomain']}.{namespace}.svc.{dns.domain}"
            lines.append(f"{pod_ip}\t{fqdn}\t{name}")
        else:
            lines.append(f"{pod_ip}\t{name}")
    for alias in spec.get("hostAliases") or []:
        lines.append(f"{alias.get('ip', '')}\t" + "\t".join(alias.get("hostnames") or []))
    return "\n".join(lines) + "\n"
