"""aiohttp's own error lines, without the request bytes they would quote.

When the HTTP parser refuses a request (a control byte in a header, an oversized line) aiohttp logs
the offending bytes, which may hold a bearer token. The apiserver's HTTP logger keeps the refusal,
as one warning naming its kind, and drops the bytes.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError


class _RedactParserErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg, record.args = "refused a malformed HTTP request (%s %s)", (exc.code, type(exc).__name__)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def request_logger() -> logging.Logger:
    """The logger to give aiohttp's request handlers."""
    logger = logging.getLogger("apiserver.http")
    if not any(isinstance(f, _RedactParserErrors) for f in logger.filters):
        logger.addFilter(_RedactParserErrors())
    return logger
