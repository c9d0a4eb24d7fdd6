"""Logging for the command-line tools: one line per step, as text or JSON.

``ADSCORE_LOG_FORMAT=json`` (or ``--log-json`` on ml.pipeline) makes every record one JSON
object (``ts``, ``level``, ``logger``, ``message`` and any structured fields such as
``step``, ``task``, ``duration_s``, ``exit_code``) for log shippers; the default is text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys

FIELDS = ("step", "task", "duration_s", "exit_code", "version", "status")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: getattr(record, k) for k in FIELDS if hasattr(record, k)})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(json_lines: bool | None = None) -> None:
    """Configure the root logger once for a command (stderr)."""
    use_json = json_lines if json_lines is not None else os.environ.get("ADSCORE_LOG_FORMAT") == "json"
    handler = logging.StreamHandler(sys.stderr)
    if use_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
