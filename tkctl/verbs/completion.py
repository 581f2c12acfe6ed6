"""``tkctl completion bash|zsh``: shell completion for verbs, sub-verbs, flags and resource names.

Resource names come from the cluster at completion time (``tkctl get <type> -o name``), as kubectl's
``__complete`` does.
"""

from __future__ import annotations

import argparse

from tkctl.errors import CliError
from tkctl.flags import Parser
from tkctl.session import Session

EXAMPLES = {"completion": """examples:
  # Load the tkctl completion code for bash into the current shell
  source <(tkctl completion bash)

  # Load the tkctl completion code for zsh into the current shell
  source <(tkctl completion zsh)
"""}

_BASH = r"""# bash completion for tkctl
_tkctl_complete() {
    local cur prev verb
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    verb=""
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            *) verb="${COMP_WORDS[i]}"; break ;;
        esac
    done
    if [[ -z "$verb" ]]; then
        COMPREPLY=($(compgen -W "@VERBS@" -- "$cur"))
        return
    fi
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "@FLAGS@" -- "$cur"))
        return
    fi
    case "$prev" in
        -n|--namespace)
            COMPREPLY=($(compgen -W "$(tkctl get namespaces -o name 2>/dev/null | sed 's|^namespace/||')" -- "$cur"))
            return ;;
        --context)
            COMPREPLY=($(compgen -W "$(tkctl config get-contexts -o name 2>/dev/null)" -- "$cur"))
            return ;;
    esac
    case "$verb" in
        @SUBVERB_CASES@
        get|describe|delete|edit|label|annotate|patch|scale|rollout|wait|expose|autoscale|set)
            local kind=""
            for ((i = i + 1; i < COMP_CWORD; i++)); do
                case "${COMP_WORDS[i]}" in -*) ;; *) kind="${COMP_WORDS[i]}"; break ;; esac
            done
            if [[ -z "$kind" ]]; then
                COMPREPLY=($(compgen -W "$(tkctl api-resources -o name 2>/dev/null | sed 's|\..*||') all" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(tkctl get "$kind" -o name 2>/dev/null | sed 's|^.*/||')" -- "$cur"))
            fi ;;
        logs|exec|attach|port-forward|cp)
            COMPREPLY=($(compgen -W "$(tkctl get pods -o name 2>/dev/null | sed 's|^pod/||')" -- "$cur")) ;;
        cordon|uncordon|drain)
            COMPREPLY=($(compgen -W "$(tkctl get nodes -o name 2>/dev/null | sed 's|^node/||')" -- "$cur")) ;;
    esac
}
complete -o default -F _tkctl_complete tkctl
"""

_ZSH = """#compdef tkctl
# zsh completion for tkctl (bash completion through bashcompinit)
autoload -U +X bashcompinit && bashcompinit
"""


def build(p: Parser, verb: str) -> None:
    p.add_argument("args", nargs="*", help="SHELL (bash or zsh)")


def script(shell: str) -> str:
    """The completion script for ``shell``."""
    import importlib  # noqa: PLC0415

    from tkctl.cli import VERBS  # noqa: PLC0415

    cases = []
    for verb, (module, _) in VERBS.items():
        subverbs = getattr(importlib.import_module(f"tkctl.verbs.{module}"), "SUBVERBS", {})
        words = sorted({w.split()[0] for w in subverbs})
        if words:
            cases.append(f'{verb}) COMPREPLY=($(compgen -W "{" ".join(words)}" -- "$cur")) ;;')
    flags = ("--kubeconfig --context --cluster --user --namespace --as --as-group --request-timeout --server "
             "--token --cache-dir --insecure-skip-tls-verify --output --selector --all-namespaces --filename "
             "--dry-run --help")
    bash = (_BASH.replace("@VERBS@", " ".join(VERBS)).replace("@FLAGS@", flags)
            .replace("@SUBVERB_CASES@", "\n        ".join(cases)))
    return bash if shell == "bash" else _ZSH + bash


def run(s: Session, o: argparse.Namespace) -> int:
    if len(o.args) != 1:
        raise CliError("Shell not specified.\nSee 'tkctl completion -h' for help and examples")
    if o.args[0] not in ("bash", "zsh"):
        raise CliError(f'Unsupported shell type "{o.args[0]}".')
    s.out.write(script(o.args[0]))
    return 0
