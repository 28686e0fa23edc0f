"""The access log line: structlog's line, written whole and flushed shortly after."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from keyguard.api.middleware import AccessLog
from keyguard.logging import make_logger

FIELDS = {"request_id": "r1", "method": "GET", "path": "/healthz", "status": 200}


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_without_an_event_loop_each_line_is_flushed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    with path.open("w") as stream:
        AccessLog(make_logger(stream, log="keyguard.access")).request(FIELDS)
        (line,) = _lines(path)  # on disk before the stream is closed
    assert line["event"] == "request"
    assert line["log"] == "keyguard.access"
    assert line["path"] == "/healthz"


def test_on_an_event_loop_lines_reach_the_stream_by_the_scheduled_flush(tmp_path: Path) -> None:
    path = tmp_path / "access.log"

    async def serve(log: AccessLog) -> list[dict[str, object]]:
        for number in range(3):
            log.request({**FIELDS, "request_id": f"r{number}"})
        await asyncio.sleep(0)  # one turn of the loop: the flush, due after FLUSH_AFTER = 0
        await asyncio.sleep(0)
        return _lines(path)

    with path.open("w") as stream:
        log = AccessLog(make_logger(stream, log="keyguard.access"))
        log.FLUSH_AFTER = 0  # type: ignore[misc]  # the delay, not the mechanism, is the point
        lines = asyncio.run(serve(log))
    assert [line["request_id"] for line in lines] == ["r0", "r1", "r2"]


def test_a_stand_in_logger_is_called_with_the_fields() -> None:
    calls: list[tuple[str, dict[str, object]]] = []

    class StandIn:
        def info(self, event: str, **fields: object) -> None:
            calls.append((event, fields))

    AccessLog(StandIn()).request(FIELDS)
    assert calls == [("request", FIELDS)]
