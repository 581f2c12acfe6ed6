"""kubectl's flag grammar on top of argparse: global flags anywhere, Go-style booleans, its error lines.

Go's pflag accepts ``--wait=false`` for booleans and ``--dry-run`` without a value (meaning its
"no-option default"), and never lets such flags swallow the next word; argparse does neither, so
arguments are normalised before parsing.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn

from tkctl.errors import UsageError


class FlagError(UsageError):
    """The command line does not parse (cobra's wording: ``Error: unknown flag: --x``)."""

_TRUE = {"true", "1", "t", "T", "TRUE", "True"}
_FALSE = {"false", "0", "f", "F", "FALSE", "False"}

# Flags taking a value, so a scan for the verb can skip it (``-n kube-system get``).
GLOBAL_VALUE_FLAGS = frozenset({
    "--kubeconfig", "--context", "--cluster", "--user", "-n", "--namespace", "--as", "--as-group", "--as-uid",
    "-v", "--v", "--request-timeout", "-s", "--server", "--token", "--cache-dir", "--certificate-authority",
    "--client-certificate", "--client-key", "--tls-server-name", "--username", "--password",
})


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help laid out for 80 columns, as argparse does off a terminal: asking the terminal's size (argparse
    builds a formatter for every add_argument) was a visible part of every command's start-up."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=78)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that reports errors as kubectl does and understands Go-style booleans."""

    def __init__(self, verb: str, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("conflict_handler", "resolve")  # a verb's own flag shadows a global one (--user)
        super().__init__(prog=f"tkctl {verb}".strip(), **kwargs)
        self.verb = verb
        self._bools: set[str] = set()
        self._optional_values: dict[str, str] = {}

    def flag(self, *names: str, default: bool = False, help: str = "") -> None:
        """A Go-style boolean flag (``--x``, ``--x=true``, ``--x=false``)."""
        self._bools.update(names)
        self.add_argument(*names, action="store_true", default=default, help=help)

    def optional_value(self, name: str, when_bare: str, **kwargs: Any) -> None:
        """A flag whose bare form means ``when_bare`` (pflag's NoOptDefVal, e.g. ``--dry-run``)."""
        self._optional_values[name] = when_bare
        self.add_argument(name, **kwargs)

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments: "):
            word = message.removeprefix("unrecognized arguments: ").split()[0]
            if word.startswith("--"):
                message = f"unknown flag: {word.split('=')[0]}"
            elif word.startswith("-") and len(word) > 1:
                message = f"unknown shorthand flag: '{word[1]}' in {word}"
            else:
                message = f"unexpected argument {word!r}"
        raise FlagError(message, self.verb)

    def parse(self, argv: Sequence[str]) -> argparse.Namespace:
        """Parse with pflag's conventions; every positional lands in ``args``."""
        words: list[str] = []
        negated: list[str] = []
        passthrough = False
        for word in argv:
            if passthrough or not word.startswith("-"):
                words.append(word)
                continue
            if word == "--":
                passthrough = True
                words.append(word)
                continue
            name, eq, value = word.partition("=")
            if name in self._bools and eq:
                if value in _FALSE:
                    negated.append(name)
                    continue
                if value not in _TRUE:
                    raise UsageError(f'invalid argument "{value}" for "{name}" flag: strconv.ParseBool: '
                                     f'parsing "{value}": invalid syntax', self.verb)
                words.append(name)
            elif name in self._optional_values and not eq:
                words.append(f"{name}={self._optional_values[name]}")
            else:
                words.append(word)
        # argparse formats the whole usage text up front, for error messages that error() above never
        # prints: a visible part of start-up, skipped unless help (which shows it) was asked for.
        skip_usage = self.usage is None and not {"-h", "--help"} & set(words)
        if skip_usage:
            self.usage = "-"
        try:
            ns, extra = self.parse_known_intermixed_args(words)
        finally:
            if skip_usage:
                self.usage = None
        if extra:
            self.error("unrecognized arguments: " + " ".join(extra))
        for name in negated:
            action = next(a for a in self._actions if name in a.option_strings)
            setattr(ns, action.dest, False)
        return ns


def add_global_flags(parser: Parser) -> None:
    """kubectl's global options, accepted by every verb."""
    g = parser.add_argument_group("global options")
    g.add_argument("--kubeconfig", help="path to the kubeconfig file to use for CLI requests")
    g.add_argument("--context", help="the name of the kubeconfig context to use")
    g.add_argument("--cluster", help="the name of the kubeconfig cluster to use")
    g.add_argument("--user", help="the name of the kubeconfig user to use")
    g.add_argument("-n", "--namespace", help="if present, the namespace scope for this CLI request")
    g.add_argument("--as", dest="as_user", help="username to impersonate for the operation")
    g.add_argument("--as-group", action="append", default=[], help="group to impersonate (repeatable)")
    g.add_argument("--as-uid", help="UID to impersonate for the operation")
    g.add_argument("-v", "--v", dest="verbosity", type=int, default=0, help="number for the log level verbosity")
    g.add_argument("--request-timeout", default="0",
                   help="how long to wait for a single server request (0 = no timeout), e.g. 1s, 2m")
    g.add_argument("-s", "--server", help="the address and port of the Kubernetes API server")
    g.add_argument("--token", help="bearer token for authentication to the API server")
    g.add_argument("--cache-dir", help="default cache directory (default ~/.kube/cache)")
    parser._bools.add("--insecure-skip-tls-verify")
    g.add_argument("--insecure-skip-tls-verify", action="store_true", default=False,
                   help="do not check the server's certificate (insecure)")


def add_output_flag(parser: Parser, *, extra: str = "") -> None:
    """``-o/--output``."""
    parser.add_argument("-o", "--output", default="",
                        help="output format: json|yaml|name|wide|jsonpath=...|custom-columns=..." + extra)


def add_dry_run(parser: Parser) -> None:
    """``--dry-run=none|client|server`` (bare ``--dry-run`` means client, as kubectl's deprecated form)."""
    parser.optional_value("--dry-run", "client", default="none", choices=["none", "client", "server", "unchanged"],
                          help='must be "none", "server", or "client"')


def add_filename_flags(parser: Parser, *, required: bool = False) -> None:
    """``-f/--filename`` (repeatable, ``-`` for stdin) and ``-R/--recursive``."""
    parser.add_argument("-f", "--filename", action="append", default=[], required=required,
                        help="file, directory or - (stdin) holding the resources")
    parser.flag("-R", "--recursive", help="process the directory used in -f recursively")


def duration_seconds(text: str, flag: str) -> float:
    """A Go duration (``30s``, ``2m``, ``1h30m``, bare seconds) in seconds."""
    import re  # noqa: PLC0415 - rare path

    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    total, pos = 0.0, 0
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise UsageError(f'invalid argument "{text}" for "{flag}" flag: time: invalid duration "{text}"')
    return total
