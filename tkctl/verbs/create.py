"""``tkctl create``: objects from files, or built by kubectl's generators (deployment, configmap, secret, …)."""

from __future__ import annotations

import argparse
from typing import Any

from client.errors import ApiError
from tkctl import generators as gen
from tkctl.errors import CliError, api_error_text
from tkctl.flags import Parser, add_dry_run, add_filename_flags, add_output_flag
from tkctl.mutate import add_validate, dry_run_mode, field_validation, namespace_for, report, with_namespace
from tkctl.session import Session

SUBVERBS = {
    "deployment": "Create a deployment with the specified name",
    "configmap": "Create a config map from a local file, directory or literal value",
    "secret generic": "Create a secret from a local file, directory, or literal value",
    "secret tls": "Create a TLS secret",
    "namespace": "Create a namespace with the specified name",
    "service clusterip": "Create a ClusterIP service",
    "service nodeport": "Create a NodePort service",
    "service loadbalancer": "Create a LoadBalancer service",
    "service externalname": "Create an ExternalName service",
    "job": "Create a job with the specified name",
    "cronjob": "Create a cron job with the specified name",
    "serviceaccount": "Create a service account with the specified name",
    "role": "Create a role with single rule",
    "clusterrole": "Create a cluster role",
    "rolebinding": "Create a role binding for a particular role or cluster role",
    "clusterrolebinding": "Create a cluster role binding for a particular cluster role",
    "token": "Request a service account token",
}
_ALIASES = {"deploy": "deployment", "cm": "configmap", "ns": "namespace", "sa": "serviceaccount", "cj": "cronjob"}
SUBVERBS.update({alias: SUBVERBS[target] for alias, target in _ALIASES.items()})

EXAMPLES = {
    "create": """examples:
  # Create a pod using the data in pod.json
  tkctl create -f ./pod.json

  # Create a pod based on the JSON passed into stdin
  cat pod.json | tkctl create -f -
""",
    "create deployment": """examples:
  # Create a deployment named my-dep that runs the busybox image
  tkctl create deployment my-dep --image=busybox

  # Create a deployment named my-dep that runs the nginx image with 3 replicas and exposes port 80
  tkctl create deployment my-dep --image=nginx --replicas=3 --port=80
""",
    "create configmap": """examples:
  # Create a new config map named my-config with key1=config1 and key2=config2
  tkctl create configmap my-config --from-literal=key1=config1 --from-literal=key2=config2
""",
}

# Generators whose failures kubectl wraps as "failed to create <what>: ..."
_WRAPPED = {"deployment": "deployment: ", "configmap": "configmap: ", "secret generic": "secret ",
            "secret tls": "secret ", "job": "job: ", "cronjob": "cronjob: ", "serviceaccount": "serviceaccount: ",
            "service clusterip": "ClusterIP service: ", "service nodeport": "NodePort service: ",
            "service loadbalancer": "LoadBalancer service: ", "service externalname": "ExternalName service: ",
            "rolebinding": "rolebinding: ", "clusterrolebinding": "clusterrolebinding: "}


def build(p: Parser, verb: str) -> None:
    sub = verb.removeprefix("create").strip()
    sub = _ALIASES.get(sub, sub)
    add_output_flag(p)
    add_dry_run(p)
    p.add_argument("--field-manager", default="kubectl-create", help="name of the manager used to track field "
                   "ownership")
    if not sub:
        add_filename_flags(p)
        add_validate(p)
        p.flag("--save-config", help="save the configuration in the last-applied-configuration annotation")
        p.flag("--edit", help="edit the API resource before creating")
        return
    p.add_argument("name", nargs="?" if sub == "job" else None, help="the object's name")
    if sub == "deployment":
        p.add_argument("--image", action="append", default=[], required=True, help="image name(s) to run")
        p.add_argument("-r", "--replicas", type=int, default=1, help="number of replicas")
        p.add_argument("--port", type=int, default=-1, help="the containerPort this deployment exposes")
    if sub in ("configmap", "secret generic"):
        p.add_argument("--from-literal", action="append", default=[], help="key=value to insert (repeatable)")
        p.add_argument("--from-file", action="append", default=[], help="[key=]file or directory (repeatable)")
        p.add_argument("--from-env-file", action="append", default=[], help="key=value lines from a file")
        p.flag("--append-hash", help="append a hash of the data to its name")
    if sub == "secret generic":
        p.add_argument("--type", default="", help="the type of secret to create")
    if sub == "secret tls":
        p.add_argument("--cert", required=True, help="path to PEM encoded public key certificate")
        p.add_argument("--key", required=True, help="path to private key associated with given certificate")
    if sub.startswith("service "):
        p.add_argument("--tcp", action="append", default=[], help="port pairs <port>:<targetPort>")
        if sub == "service clusterip":
            p.add_argument("--clusterip", help="assign your own ClusterIP or set to 'None' for a headless service")
        if sub == "service nodeport":
            p.add_argument("--node-port", type=int, default=0, help="port used to expose the service on each node")
        if sub == "service externalname":
            p.add_argument("--external-name", required=True, help="external name of the service")
    if sub in ("job", "cronjob"):
        p.add_argument("--image", help="image name to run")
        p.add_argument("command", nargs="*", help="-- COMMAND [args...]")
    if sub == "job":
        p.add_argument("--from", dest="from_", help="the resource to create a Job from (only cronjob is supported)")
    if sub == "cronjob":
        p.add_argument("--schedule", required=True, help="a schedule in the Cron format the job should be run with")
        p.add_argument("--restart", default="OnFailure", help="job's restart policy: OnFailure, Never")
    if sub in ("role", "clusterrole"):
        p.add_argument("--verb", action="append", default=[], help="verb(s) that apply to the resources")
        p.add_argument("--resource", action="append", default=[], help="resource(s) the rule applies to")
        p.add_argument("--resource-name", action="append", default=[], help="resource name(s) in the allow list")
        if sub == "clusterrole":
            p.add_argument("--non-resource-url", action="append", default=[], help="non-resource URL(s)")
    if sub in ("rolebinding", "clusterrolebinding"):
        if sub == "rolebinding":
            p.add_argument("--role", help="role this binding should reference")
        p.add_argument("--clusterrole", help="cluster role this binding should reference")
        p.add_argument("--user", dest="subject_users", action="append", default=[], help="usernames to bind")
        p.add_argument("--group", action="append", default=[], help="groups to bind")
        p.add_argument("--serviceaccount", action="append", default=[], help="<namespace>:<name> to bind")
    if sub == "token":
        p.add_argument("--duration", default="", help="requested lifetime of the token (e.g. 10m)")
        p.add_argument("--audience", action="append", default=[], help="audience of the requested token")
        p.add_argument("--bound-object-kind", default="", help="kind of an object to bind the token to")
        p.add_argument("--bound-object-name", default="", help="name of the object to bind the token to")


def run(s: Session, o: argparse.Namespace) -> int:
    sub = s.verb.removeprefix("create").strip()
    sub = _ALIASES.get(sub, sub)
    if not sub:
        return _from_files(s, o)
    if sub == "token":
        return _token(s, o)
    obj = _generate(s, sub, o)
    return _create_one(s, o, obj, _WRAPPED.get(sub))


def _split(values: list[str]) -> list[str]:
    return [v for value in values for v in value.split(",") if v]


def _generate(s: Session, sub: str, o: argparse.Namespace) -> dict[str, Any]:
    name = o.name
    if sub == "deployment":
        return gen.deployment(name, o.image, o.replicas, o.port if o.port >= 0 else None, [])
    if sub == "configmap":
        return gen.configmap(name, o.from_literal, o.from_file, o.from_env_file)
    if sub == "secret generic":
        return gen.secret(name, o.from_literal, o.from_file, o.from_env_file, o.type)
    if sub == "secret tls":
        return gen.tls_secret(name, o.cert, o.key)
    if sub == "namespace":
        return gen.namespace(name)
    if sub.startswith("service "):
        kind = {"clusterip": "ClusterIP", "nodeport": "NodePort", "loadbalancer": "LoadBalancer",
                "externalname": "ExternalName"}[sub.split()[1]]
        return gen.service(name, kind, o.tcp, cluster_ip=getattr(o, "clusterip", None),
                           node_port=getattr(o, "node_port", None), external_name=getattr(o, "external_name", None))
    if sub == "job":
        if o.from_:
            kind, _, source = o.from_.partition("/")
            if kind not in ("cronjob", "cronjobs", "cj", "cronjob.batch"):
                raise CliError(f"from must be an existing cronjob: {o.from_}")
            cron = s.client.get(s.resource("cronjobs").ref, source, s.namespace)
            return gen.job_from_cronjob(name, cron)
        if not o.image:
            raise CliError("--image must be specified")
        return gen.job(name, o.image, o.command)
    if sub == "cronjob":
        if not o.image:
            raise CliError("--image must be specified")
        return gen.cronjob(name, o.image, o.schedule, o.command, o.restart)
    if sub == "serviceaccount":
        return gen.service_account(name)
    if sub in ("role", "clusterrole"):
        verbs, resources = _split(o.verb), _split(o.resource)
        urls = _split(getattr(o, "non_resource_url", []))
        if not verbs:
            raise CliError("at least one verb must be specified")
        if not resources and not urls:
            raise CliError("at least one resource must be specified")
        return gen.role("Role" if sub == "role" else "ClusterRole", name,
                        gen.rules(verbs, resources, _split(o.resource_name), urls))
    if sub in ("rolebinding", "clusterrolebinding"):
        role = getattr(o, "role", None)
        if bool(role) == bool(o.clusterrole):
            raise CliError("exactly one of clusterrole or role must be specified")
        return gen.binding("RoleBinding" if sub == "rolebinding" else "ClusterRoleBinding", name,
                           "Role" if role else "ClusterRole", role or o.clusterrole, users=o.subject_users,
                           groups=o.group, service_accounts=o.serviceaccount)
    raise CliError(f"unknown generator {sub}")


def _create_one(s: Session, o: argparse.Namespace, obj: dict[str, Any], wrap: str | None) -> int:
    info = s.discovery.for_kind(str(obj["apiVersion"]), str(obj["kind"]))
    ns = s.namespace if info.ref.namespaced else None
    with_namespace(s, obj, info.ref.namespaced)
    mode = dry_run_mode(o)
    if mode == "client":
        report(s, obj, "created", o, built=True)
        return 0
    try:
        created = s.client.create(info.ref, obj, ns, field_manager=o.field_manager, dry_run=mode == "server")
    except ApiError as exc:
        if wrap is None:
            raise
        raise CliError(f"failed to create {wrap}{exc.message}") from exc
    report(s, created, "created", o)
    return 0


def _from_files(s: Session, o: argparse.Namespace) -> int:
    from tkctl.manifests import read_objects  # noqa: PLC0415

    if not o.filename:
        raise CliError("must specify one of -f and -k")
    mode = dry_run_mode(o)
    validation = field_validation(o)
    failed = False
    for source, obj in read_objects(o.filename, o.recursive, "create"):
        try:
            info = s.discovery.for_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
            ns = namespace_for(s, info.ref.namespaced, obj)
            body = obj
            if o.save_config:
                from tkctl.lastapplied import with_last_applied  # noqa: PLC0415

                body = with_last_applied(obj)
            if mode == "client":
                result = body
            else:
                result = s.client.create(info.ref, body, ns, field_manager=o.field_manager,
                                         field_validation=validation, dry_run=mode == "server")
            report(s, result, "created", o)
        except ApiError as exc:
            s.warn(api_error_text(exc, context=f'error when creating "{source}": '))
            failed = True
    return 1 if failed else 0


def _token(s: Session, o: argparse.Namespace) -> int:
    from tkctl.flags import duration_seconds  # noqa: PLC0415

    spec: dict[str, Any] = {"audiences": o.audience or None}
    if o.duration:
        spec["expirationSeconds"] = int(duration_seconds(o.duration, "--duration"))
    if o.bound_object_kind:
        spec["boundObjectRef"] = {"kind": o.bound_object_kind, "name": o.bound_object_name,
                                  "apiVersion": "v1" if o.bound_object_kind in ("Pod", "Secret") else ""}
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {"creationTimestamp": None}, "spec": {k: v for k, v in spec.items() if v is not None},
            "status": {"expirationTimestamp": None, "token": ""}}
    ref = s.resource("serviceaccounts").ref
    try:
        result = s.client.create(ref, body, s.namespace, name=o.name, subresource="token")
    except ApiError as exc:
        raise CliError(f"failed to create token: {exc.message}") from exc
    if o.output:
        from tkctl.printing import render  # noqa: PLC0415

        s.out.write(render([result], o.output, single=True))
    else:
        s.print(str((result.get("status") or {}).get("token", "")))
    return 0
