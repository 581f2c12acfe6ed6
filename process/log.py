"""Structured, klog-shaped logging: one line per event, with the component and level.

Format: ``I1126 08:41:02.123456 store raft.node] became leader term=3 id=n1``.
Verbosity follows klog: ``-v N`` enables ``log.v(N)`` messages with N at most that level.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

_LEVEL_LETTER = {logging.DEBUG: "I", logging.INFO: "I", logging.WARNING: "W", logging.ERROR: "E",
                 logging.CRITICAL: "F"}

class _Settings:
    component = "tinykube"
    verbosity = 0


_settings = _Settings()


def _render_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class _KlogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%m%d %H:%M:%S", time.localtime(record.created))
        micros = int((record.created % 1) * 1_000_000)
        letter = _LEVEL_LETTER.get(record.levelno, "I")
        pairs = getattr(record, "kv", None) or {}
        line = f"{letter}{ts}.{micros:06d} {_settings.component} {record.name}] {record.getMessage()}"
        if pairs:
            line += " " + " ".join(f"{k}={_render_value(v)}" for k, v in pairs.items())
        if record.exc_info:
            line += " err=" + _render_value(self.formatException(record.exc_info))
        return line


class Logger:
    """A named logger taking key/value pairs: ``log.info("bound pod", pod=name, node=n)``."""

    def __init__(self, name: str) -> None:
        self._log = logging.getLogger(name)

    def _emit(self, level: int, msg: str, kv: dict[str, Any], exc_info: bool = False) -> None:
        if self._log.isEnabledFor(level):
            self._log.log(level, msg, extra={"kv": kv}, exc_info=exc_info, stacklevel=3)

    def info(self, msg: str, **kv: Any) -> None:
        self._emit(logging.INFO, msg, kv)

    def warning(self, msg: str, **kv: Any) -> None:
        self._emit(logging.WARNING, msg, kv)

    def error(self, msg: str, exc_info: bool = False, **kv: Any) -> None:
        self._emit(logging.ERROR, msg, kv, exc_info)

    def v(self, level: int, msg: str, **kv: Any) -> None:
        """Log at klog verbosity ``level``: shown only when the process runs with ``-v >= level``."""
        if _settings.verbosity >= level:
            self._emit(logging.INFO, msg, kv)

    def enabled(self, level: int) -> bool:
        """Whether ``v(level)`` messages are shown, to skip building costly ones."""
        return _settings.verbosity >= level


def get_logger(name: str) -> Logger:
    return Logger(name)


def configure(component: str, verbosity: int = 0, stream: TextIO | None = None) -> None:
    """Point every logger at ``stream`` (stderr by default) in klog format for ``component``."""
    _settings.component = component
    _settings.verbosity = verbosity
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_KlogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # Libraries are chatty at INFO; they speak only when something is wrong.
    for noisy in ("asyncio", "aiohttp.access", "grpc", "pyroute2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
