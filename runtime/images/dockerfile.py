"""Dockerfile parsing: the instruction subset ``tinykube image build`` runs, with Docker's rules.

Handles parser directives (``# escape=``), line continuations, comments, JSON (exec) and shell
forms, ARG/ENV variable substitution in the instructions Docker substitutes, and the
ENTRYPOINT/CMD combination table of Docker's reference.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from runtime.images.errors import BuildError

SUPPORTED = {"FROM", "COPY", "ADD", "RUN", "ENV", "ARG", "WORKDIR", "USER", "LABEL", "EXPOSE", "ENTRYPOINT", "CMD",
             "HEALTHCHECK", "VOLUME", "STOPSIGNAL", "SHELL"}
# Instructions whose arguments Docker expands $VARIABLES in (RUN, CMD, ENTRYPOINT leave it to the shell).
SUBSTITUTED = {"FROM", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "LABEL", "EXPOSE", "VOLUME", "STOPSIGNAL"}
DEFAULT_SHELL = ("/bin/sh", "-c")
_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<op>[-+])(?P<word>[^}]*))?\}"
                  r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_FLAG = re.compile(r"--([a-z-]+)=(\S*)")


@dataclass
class Instruction:
    """One instruction: its keyword, flags (``--chown=…``), and arguments as written."""

    keyword: str
    args: str
    line: int
    flags: dict[str, str] = field(default_factory=dict)

    def where(self) -> str:
        return f"line {self.line}: {self.keyword}"

    def exec_form(self) -> list[str] | None:
        """The JSON array form's elements, or None for the shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None  # Docker, too, runs a malformed JSON array as a shell command
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None
        return value

    def command(self, shell: tuple[str, ...] | list[str] = DEFAULT_SHELL) -> list[str]:
        """Exec form as is; shell form wrapped in the SHELL (``/bin/sh -c``)."""
        exec_form = self.exec_form()
        if exec_form is not None:
            return exec_form
        if not self.args.strip():
            raise BuildError(f"{self.where()} needs a command")
        return [*shell, self.args.strip()]


def parse(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions, refusing ones outside the supported subset."""
    lines = text.splitlines()
    escape = "\\"
    start = 0
    for start, raw in enumerate(lines):
        match = _DIRECTIVE.fullmatch(raw.strip())
        if not match:
            break
        if match.group(1).lower() == "escape":
            if match.group(2) not in ("\\", "`"):
                raise BuildError(f"line {start + 1}: escape must be \\ or `")
            escape = match.group(2)
    else:
        start = len(lines)
    instructions: list[Instruction] = []
    buffer: list[str] = []
    first_line = 0
    for number, raw in enumerate(lines[start:], start + 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and (not stripped or stripped.startswith("#")):
            continue  # comments and blank lines inside a continued instruction are dropped, as Docker does
        if not buffer:
            first_line = number
        if stripped.endswith(escape) and not stripped.endswith(escape * 2):
            buffer.append(stripped[:-1])
            continue
        buffer.append(stripped)
        instructions.append(_instruction(" ".join(part for part in buffer if part), first_line))
        buffer = []
    if buffer:
        instructions.append(_instruction(" ".join(buffer), first_line))
    if not any(i.keyword == "FROM" for i in instructions):
        raise BuildError("the Dockerfile has no FROM instruction")
    for inst in instructions:
        if inst.keyword == "FROM":
            break
        if inst.keyword != "ARG":
            raise BuildError(f"{inst.where()} comes before FROM (only ARG may)")
    return instructions


def _instruction(text: str, line: int) -> Instruction:
    keyword, _, rest = text.partition(" ")
    keyword = keyword.upper()
    if keyword not in SUPPORTED:
        raise BuildError(f"line {line}: {keyword} is not supported by tinykube image build")
    flags: dict[str, str] = {}
    rest = rest.strip()
    if keyword in ("COPY", "ADD", "HEALTHCHECK", "FROM"):
        while match := _FLAG.match(rest):
            flags[match.group(1)] = match.group(2)
            rest = rest[match.end():].lstrip()
    return Instruction(keyword, rest, line, flags)


def substitute(text: str, env: Mapping[str, str], where: str = "") -> str:
    """Expand ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR:+alternative}``; ``\\$`` stays literal."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] == "$":
            out.append("$")
            pos += 2
            continue
        if char == "$":
            match = _VAR.match(text, pos)
            if match is None:
                if text.startswith("${", pos):
                    raise BuildError(f"{where}: bad variable substitution in {text!r}")
                out.append(char)
                pos += 1
                continue
            name = match.group("braced") or match.group("plain")
            value = env.get(name)
            op = match.group("op")
            if op == "-":
                out.append(value if value else substitute(match.group("word"), env, where))
            elif op == "+":
                out.append(substitute(match.group("word"), env, where) if value else "")
            else:
                out.append(value or "")
            pos = match.end()
            continue
        out.append(char)
        pos += 1
    return "".join(out)


def key_values(inst: Instruction) -> dict[str, str]:
    """``ENV``/``LABEL``/``ARG`` pairs: ``k=v k2="v 2"``, or the legacy ``ENV key value words``."""
    text = inst.args.strip()
    try:
        words = shlex.split(text, posix=True)
    except ValueError as err:
        raise BuildError(f"{inst.where()}: {err}") from None
    if not words:
        raise BuildError(f"{inst.where()} needs arguments")
    if inst.keyword == "ENV" and "=" not in words[0]:
        name, _, value = text.partition(" ")
        if not value.strip():
            raise BuildError(f"{inst.where()} {name} needs a value")
        return {name: value.strip()}
    pairs: dict[str, str] = {}
    for word in words:
        name, sep, value = word.partition("=")
        if not name or (not sep and inst.keyword != "ARG"):
            raise BuildError(f"{inst.where()}: expected KEY=VALUE, got {word!r}")
        pairs[name] = value if sep else ""
    return pairs


def exposed_ports(inst: Instruction) -> list[str]:
    """``80``, ``80/tcp``, ``53/udp``, ``8000-8002`` → Docker's ``PORT/PROTO`` keys."""
    ports: list[str] = []
    for word in inst.args.split():
        number, _, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        low, _, high = number.partition("-")
        if proto not in ("tcp", "udp", "sctp") or not low.isdigit() or (high and not high.isdigit()):
            raise BuildError(f"{inst.where()}: invalid port {word!r}")
        ports.extend(f"{p}/{proto}" for p in range(int(low), int(high or low) + 1))
    if not ports:
        raise BuildError(f"{inst.where()} needs at least one port")
    return ports


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def _duration_ns(text: str, where: str) -> int:
    matches = list(_DURATION.finditer(text))
    if not matches or "".join(m.group(0) for m in matches) != text:
        raise BuildError(f"{where}: invalid duration {text!r} (use e.g. 30s, 1m30s)")
    return int(sum(float(m.group(1)) * _UNIT_NS[m.group(2)] for m in matches))


def healthcheck(inst: Instruction) -> dict[str, object]:
    """The config's ``Healthcheck`` object (durations in nanoseconds, as Docker stores them)."""
    text = inst.args.strip()
    if text.upper() == "NONE":
        return {"Test": ["NONE"]}
    kind, _, rest = text.partition(" ")
    if kind.upper() != "CMD":
        raise BuildError(f"{inst.where()}: expected NONE or CMD")
    command = Instruction("CMD", rest, inst.line)
    exec_form = command.exec_form()
    test = ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", rest.strip()]
    if len(test) < 2 or not test[1]:
        raise BuildError(f"{inst.where()} needs a command")
    result: dict[str, object] = {"Test": test}
    names = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
             "start-interval": "StartInterval"}
    for flag, value in inst.flags.items():
        if flag in names:
            result[names[flag]] = _duration_ns(value, inst.where())
        elif flag == "retries":
            if not value.isdigit():
                raise BuildError(f"{inst.where()}: --retries must be a number")
            result["Retries"] = int(value)
        else:
            raise BuildError(f"{inst.where()}: unknown flag --{flag}")
    return result

