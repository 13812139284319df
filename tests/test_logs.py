"""Log lines are machine-readable JSON carrying the fields passed with them."""

from __future__ import annotations

import json
import logging

import pytest

from opendpo.logs import configure_logging


def test_json_lines_carry_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", fmt="json")
    logger = logging.getLogger("opendpo.test")
    logger.info("request served", extra={"path": "/healthz", "status": 200})
    logger.debug("too detailed to show")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"] == "request served"
    assert entry["level"] == "info"
    assert entry["logger"] == "opendpo.test"
    assert (entry["path"], entry["status"]) == ("/healthz", 200)
    assert entry["time"].endswith("+00:00")


def test_exceptions_are_logged_as_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", fmt="json")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("opendpo.test").exception("failed")
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "ValueError: boom" in json.loads(line)["exception"]
