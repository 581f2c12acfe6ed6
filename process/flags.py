"""Command-line flags with upstream names and environment-variable fallbacks.

Every flag ``--data-dir`` of component ``store`` may also come from ``TINYKUBE_STORE_DATA_DIR``;
a flag given on the command line wins. ``-v``/``--v`` sets klog verbosity everywhere.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any


def env_name(component: str, flag: str) -> str:
    return "TINYKUBE_" + (component + "_" + flag.lstrip("-")).upper().replace("-", "_")


class ComponentParser(argparse.ArgumentParser):
    """An ArgumentParser whose long flags fall back to ``TINYKUBE_<COMPONENT>_<FLAG>``."""

    def __init__(self, component: str, **kwargs: Any) -> None:
        kwargs.setdefault("prog", f"tinykube {component}")
        super().__init__(**kwargs)
        self.component = component
        self.add_argument("-v", "--v", dest="verbosity", type=int, default=None,
                          help="log verbosity, as klog's -v (env: {})".format(env_name(component, "v")))

    def add_argument(self, *names: Any, **kwargs: Any) -> argparse.Action:
        long_names = [n for n in names if isinstance(n, str) and n.startswith("--")]
        if long_names and kwargs.get("action") not in ("help", "version"):
            var = env_name(self.component, long_names[0])
            if var in os.environ:
                raw = os.environ[var]
                kwargs["default"] = _from_env(raw, kwargs)
                kwargs.pop("required", None)
            if "help" in kwargs and kwargs["help"] is not argparse.SUPPRESS:
                kwargs["help"] = f"{kwargs['help']} (env: {var})"
        return super().add_argument(*names, **kwargs)

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        ns = super().parse_args(args, namespace)
        if getattr(ns, "verbosity", None) is None:
            ns.verbosity = 0
        return ns


def _from_env(raw: str, kwargs: dict[str, Any]) -> Any:
    action = kwargs.get("action")
    if action in ("store_true", "store_false"):
        return raw.lower() in ("1", "true", "yes", "on")
    convert = kwargs.get("type")
    return convert(raw) if callable(convert) else raw


def parse_bool(value: str) -> bool:
    """Kubernetes-style boolean flag values (``--leader-elect=false``)."""
    lowered = value.lower()
    if lowered in ("1", "t", "true", "yes", "y", "on"):
        return True
    if lowered in ("0", "f", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r}")
