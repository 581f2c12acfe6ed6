"""The ``tkctl`` command: kubectl's grammar, verbs loaded only when invoked (startup cost matters)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from tkctl.errors import CliError, ExitCode, UsageError, error_text
from tkctl.flags import GLOBAL_VALUE_FLAGS, FlagError, Parser, add_global_flags

# verb -> (module under tkctl.verbs, one-line summary), in kubectl's help order.
VERBS: dict[str, tuple[str, str]] = {
    "create": ("create", "Create a resource from a file or from stdin"),
    "expose": ("expose", "Take a replication controller, service, deployment or pod and expose it as a new "
                         "Kubernetes service"),
    "run": ("run", "Run a particular image on the cluster"),
    "set": ("set_", "Set specific features on objects"),
    "explain": ("explain", "Get documentation for a resource"),
    "get": ("get", "Display one or many resources"),
    "edit": ("edit", "Edit a resource on the server"),
    "delete": ("delete", "Delete resources by file names, stdin, resources and names, or by resources and label "
                         "selector"),
    "rollout": ("rollout", "Manage the rollout of a resource"),
    "scale": ("scale", "Set a new size for a deployment, replica set, or replication controller"),
    "autoscale": ("autoscale", "Auto-scale a deployment, replica set, stateful set, or replication controller"),
    "cluster-info": ("info", "Display cluster information"),
    "top": ("top", "Display resource (CPU/memory) usage"),
    "cordon": ("nodes", "Mark node as unschedulable"),
    "uncordon": ("nodes", "Mark node as schedulable"),
    "drain": ("nodes", "Drain node in preparation for maintenance"),
    "taint": ("nodes", "Update the taints on one or more nodes"),
    "describe": ("describe", "Show details of a specific resource or group of resources"),
    "logs": ("logs", "Print the logs for a container in a pod"),
    "attach": ("exec_", "Attach to a running container"),
    "exec": ("exec_", "Execute a command in a container"),
    "port-forward": ("portforward", "Forward one or more local ports to a pod"),
    "cp": ("cp", "Copy files and directories to and from containers"),
    "auth": ("auth", "Inspect authorization"),
    "apply": ("apply", "Apply a configuration to a resource by file name or stdin"),
    "patch": ("patch", "Update fields of a resource"),
    "replace": ("replace", "Replace a resource by file name or stdin"),
    "wait": ("wait", "Experimental: Wait for a specific condition on one or many resources"),
    "label": ("label", "Update the labels on a resource"),
    "annotate": ("label", "Update the annotations on a resource"),
    "completion": ("completion", "Output shell completion code for the specified shell (bash, zsh)"),
    "api-resources": ("info", "Print the supported API resources on the server"),
    "api-versions": ("info", "Print the supported API versions on the server, in the form of \"group/version\""),
    "config": ("config", "Modify kubeconfig files"),
    "version": ("info", "Print the client and server version information"),
}


def find_verb(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """The first word that is neither a flag nor a global flag's value; the rest without it."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return None, list(argv)
        if word.startswith("-"):
            if word in GLOBAL_VALUE_FLAGS:
                i += 1
            i += 1
            continue
        return word, [*argv[:i], *argv[i + 1:]]
    return None, list(argv)


def _subverb(verb: str, rest: list[str], subverbs: dict[str, str], summary: str) -> tuple[str, list[str], str]:
    """``create`` + ``secret generic`` → ``create secret generic`` (longest match of the next words)."""
    positions: list[int] = []
    i = 0
    while i < len(rest) and len(positions) < 2:
        if rest[i] == "--":
            break
        if rest[i].startswith("-"):
            i += 2 if rest[i] in GLOBAL_VALUE_FLAGS else 1
            continue
        positions.append(i)
        i += 1
    for count in (2, 1):
        if len(positions) >= count:
            words = " ".join(rest[p] for p in positions[:count])
            if words in subverbs:
                left = [w for n, w in enumerate(rest) if n not in positions[:count]]
                return f"{verb} {words}", left, subverbs[words]
    return verb, rest, summary


def usage() -> str:
    """``tkctl --help``."""
    width = max(len(v) for v in VERBS)
    lines = ["tkctl controls the Kubernetes cluster manager, as kubectl does.", "", "Commands:"]
    lines += [f"  {verb.ljust(width)}   {summary}" for verb, (_, summary) in VERBS.items()]
    lines += ["", "Usage:", "  tkctl [flags] [options]", "",
              'Use "tkctl <command> --help" for more information about a given command.']
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    verb, rest = find_verb(args)
    if verb is None:
        if "--version" in args:  # tkctl's own version, offline (`tkctl version` asks the server too)
            from process.version import KUBERNETES_GIT_VERSION, __version__  # noqa: PLC0415
            print(f"tkctl {__version__} (kubectl-compatible, Kubernetes API {KUBERNETES_GIT_VERSION})")
            return 0
        print(usage())
        return 0
    if verb not in VERBS:
        print(f'error: unknown command "{verb}" for "tkctl"', file=sys.stderr)
        return 1
    module = importlib.import_module(f"tkctl.verbs.{VERBS[verb][0]}")
    subverbs: dict[str, str] = getattr(module, "SUBVERBS", {})
    summary = VERBS[verb][1]
    if subverbs:
        verb, rest, summary = _subverb(verb, rest, subverbs, summary)
    parser = Parser(verb, description=summary, epilog=getattr(module, "EXAMPLES", {}).get(verb))
    add_global_flags(parser)
    module.build(parser, verb)
    session = None
    try:
        opts = parser.parse(rest)
        from tkctl.session import Session  # noqa: PLC0415

        session = Session(opts, verb)
        return int(module.run(session, opts) or 0)
    except ExitCode as exc:
        return exc.code
    except FlagError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        print(f"See 'tkctl {exc.verb or verb} --help' for usage.", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"See 'tkctl {exc.verb or verb} -h' for help and examples", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        from client.errors import ClientError  # noqa: PLC0415

        if not isinstance(exc, CliError | ClientError | OSError | ValueError):
            raise
        server = session.config.servers[0] if session is not None and "config" in session.__dict__ else ""
        print(error_text(exc, server), file=sys.stderr)
        return 1
    finally:
        if session is not None:
            session.close()
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
