"""Log lines that never carry a full ID number, phone number or birth date, nor a terminal
escape or a forged line break from a file name.

Every process that logs (`dangan watch`, its workers, the web server and its access log)
puts :class:`PrivateDataFilter` on its handlers: the message, its arguments and any
traceback are masked as snippets are (``360122********8999``) before they are written.
"""

from __future__ import annotations

import copy
import logging
import sys

from pipeline.text import mask_private_numbers, printable


def _one_line(text: str) -> str:
    """Control characters (ESC, CR, LF …) written as escapes; a tab stays."""
    return printable(text, keep="\t")


class PrivateDataFilter(logging.Filter):
    """Masks a record in place (so every handler after it sees the masked text). The arguments
    are masked one by one, not merged into the message: formatters such as uvicorn's access
    log read them (client, method, path, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_private_numbers(_one_line(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_private_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_private_numbers(record.stack_info)
        return True


def _clean(value):
    """A log argument: text masked and on one line; paths and exceptions too (they print a name)."""
    if isinstance(value, (str, bytes, Exception)) or hasattr(value, "__fspath__"):
        text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)
        return mask_private_numbers(_one_line(text))
    return value


def setup(level: int = logging.INFO, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> None:
    """Root logging to stderr, every line through PrivateDataFilter."""
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)
    protect(logging.getLogger())


def protect(logger: logging.Logger) -> None:
    """Put the filter on every handler of ``logger`` (handler filters also see records that
    propagate from child loggers, which logger filters do not)."""
    for handler in logger.handlers:
        if not any(isinstance(f, PrivateDataFilter) for f in handler.filters):
            handler.addFilter(PrivateDataFilter())


def uvicorn_log_config() -> dict:
    """uvicorn's own logging configuration with the filter on its handlers (access log too)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["private"] = {"()": PrivateDataFilter}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("private")
    return config
