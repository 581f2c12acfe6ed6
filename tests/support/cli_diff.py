"""Running the same command lines with kubectl and tkctl, and comparing what they print.

Each client works in its own namespace (``{ns}``) and on its own cluster-scoped names (``{p}``), of
equal length, so tables line up the same; what legitimately differs between two runs (ages, uids,
resourceVersions, timestamps, generated suffixes, allocated IPs) is normalised away before comparing.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.apiserver_cluster import KUBECTL

TKCTL = str(Path(sys.executable).parent / "tkctl")

_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "UID"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"), "TIME"),
    (re.compile(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}"), "TIME"),
    (re.compile(r'(resourceVersion"?:\s*)"\d+"'), r'\1"RV"'),
    (re.compile(r"(\bresourceVersion=)\d+"), r"\1RV"),
    (re.compile(r"(Resource Version:\s+)\d+"), r"\1RV"),
    (re.compile(r"\b10\.(9[6-9]|1[01]\d)\.\d{1,3}\.\d{1,3}\b"), "SERVICE-IP"),
    (re.compile(r"\b(\d+[smhd]){1,2}(?= |$|\))", re.MULTILINE), "AGE"),
    (re.compile(r"-[a-z0-9]{8,10}-[a-z0-9]{5}\b"), "-HASH-RAND"),
    (re.compile(r"-[bcdfghjklmnpqrstvwxz2456789]{5}\b"), "-RAND"),
    (re.compile(r"-[a-f0-9]{8,10}\b"), "-HASH"),
    (re.compile(r"(?m)^(Client Version|Kustomize Version): .*\n"), ""),
    (re.compile(r"https://127\.0\.0\.1:\d+"), "SERVER"),
    (re.compile(r"[ \t]{2,}"), "\t"),
]


def normalise(text: str, ns: str, prefix: str) -> str:
    """``text`` with the client's namespace/prefix and run-specific values replaced by placeholders."""
    text = text.replace(ns, "NS").replace(prefix, "P").replace("tkctl", "kubectl")
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


@dataclass
class Outcome:
    """What one command printed, normalised, and how it exited."""

    stdout: str
    stderr: str
    code: int


def run(binary: str, line: str, *, ns: str, prefix: str, kubeconfig: Path, cache_dir: Path, home: Path,
        stdin: str | None = None, extra_env: dict[str, str] | None = None, timeout: float = 120.0) -> Outcome:
    """Run one command line (``{ns}``/``{p}`` substituted) with ``binary`` as the client."""
    words = shlex.split(line.replace("{ns}", ns).replace("{p}", prefix))
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(kubeconfig), **(extra_env or {})}
    result = subprocess.run([binary, "--cache-dir", str(cache_dir), *words], input=stdin, capture_output=True,
                            text=True, env=env, timeout=timeout)
    return Outcome(normalise(result.stdout, ns, prefix), normalise(result.stderr, ns, prefix), result.returncode)


def clients() -> dict[str, tuple[str, str]]:
    """Each client's binary and its name prefix (equal lengths keep table widths equal)."""
    return {"kubectl": (KUBECTL, "kq7"), "tkctl": (TKCTL, "tq7")}
