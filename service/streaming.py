"""``POST /v1/group/stream``: NDJSON in, NDJSON out, any size, bounded memory.

How it works: a reader task pulls the request body message by message, cuts
it into lines and hands lists of lines to the grouping loop through a
zero-capacity channel. The grouping loop parses, groups and serialises one
list in a worker thread and sends the answer lines before taking the next
list. So:

* memory is bounded: at most one list being gathered, one being grouped and
  one grouped answer waiting for the socket (each at most
  ``FASTDRG_STREAM_CHUNK_CLAIMS`` lines of at most ``FASTDRG_MAX_CLAIM_BYTES``),
  whatever the size of the body; grouping a list overlaps sending the last;
* batching adapts: when the grouping loop is idle, whatever lines have
  arrived go at once (low latency for a trickle); while it is busy, lines
  accumulate up to the chunk size (few, large engine calls under load);
* backpressure works both ways: a full chunk waits for the grouping loop,
  which waits for the client to read answers (uvicorn's ``send`` waits on the
  socket), so a slow reader slows the body read instead of growing memory.

One answer line per input line, in order; blank lines are skipped. A line
that is not JSON, not an object, or longer than the limit is answered by an
error line in its place.

Why not ``StreamingResponse``: under uvicorn (ASGI spec 2.3) Starlette's
streaming response listens on ``receive`` for a disconnect while it streams,
which would swallow the very request body this route is still reading.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from starlette.responses import Response

from engine.io.textfile import BOM, strip_bom

from .claims import BadLine, text_errors

__all__ = ["NDJSONGroupingResponse", "NDJSON"]

NDJSON = "application/x-ndjson"
log = logging.getLogger("fastdrg.service")


class _Disconnected(Exception):
    pass


class NDJSONGroupingResponse(Response):
    media_type = NDJSON

    def __init__(self, runtime, grouper: Any, edits: bool = False, base_rate=None) -> None:
        self.runtime = runtime
        self.grouper = grouper
        self.edits = edits  # the Medicare Code Editor's edits in each result
        self.base_rate = base_rate  # the request's ?base_rate= (engine.payment), else the setting
        self.status_code = 200
        self.background = None
        self.body = None  # no Content-Length: the answer is streamed (chunked)
        self.init_headers({"cache-control": "no-store", "x-content-type-options": "nosniff"})
        self.claims = 0

    # -- grouping (worker thread) -------------------------------------------------------------
    def _process(self, lines: list) -> bytes:
        rt = self.runtime
        texts = [line if type(line) is bytes else b"" for line in lines]  # b"": an over-long line
        grouped = rt.group_texts(self.grouper, texts, b"\n", self.edits, base_rate=self.base_rate)
        extra, errors = text_errors(lines, grouped)
        rt.metrics.count_grouped(grouped.counts, errors)
        return grouped.join(extra, suffix=b"\n")

    # -- reading (event loop) ------------------------------------------------------------------
    async def _read(self, receive, channel) -> None:
        settings = self.runtime.settings
        chunk_max = settings.stream_chunk_claims
        max_line = settings.max_claim_bytes
        too_long = f"line longer than {max_line} bytes (FASTDRG_MAX_CLAIM_BYTES)"
        pending: list = []
        partial = b""
        skipping = False  # inside an over-long line, discarding up to its newline
        at_start = True  # a leading UTF-8 BOM (Windows tools write one) is skipped
        async with channel:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected()
                data = message.get("body", b"")
                more = message.get("more_body", False)
                if data:
                    if skipping:
                        cut = data.find(b"\n")
                        if cut < 0:
                            data = b""
                        else:
                            data = data[cut + 1:]
                            skipping = False
                    if partial:
                        data = partial + data
                    if at_start:
                        if more and len(data) < len(BOM) and BOM.startswith(data):
                            partial = data  # the BOM's rest is in the next message
                            continue
                        data = strip_bom(data)
                        at_start = False
                    parts = data.split(b"\n")
                    partial = parts.pop()
                    for line in parts:
                        if not line or line.isspace():
                            continue
                        pending.append(line if len(line) <= max_line else BadLine(too_long))
                    if len(partial) > max_line:
                        pending.append(BadLine(too_long))
                        partial = b""
                        skipping = True
                if not more:
                    if partial and not partial.isspace():
                        pending.append(partial)
                    break
                if len(pending) >= chunk_max:
                    while len(pending) >= chunk_max:
                        await channel.send(pending[:chunk_max])
                        pending = pending[chunk_max:]
                elif pending:
                    try:
                        channel.send_nowait(pending)  # only succeeds if the grouping loop is idle
                        pending = []
                    except anyio.WouldBlock:
                        pass
            while pending:
                await channel.send(pending[:chunk_max])
                pending = pending[chunk_max:]

    # -- ASGI ------------------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        sender, receiver = anyio.create_memory_object_stream(0)
        total = 0
        try:
            async with anyio.create_task_group() as tg:

                async def read() -> None:
                    try:
                        await self._read(receive, sender)
                    except _Disconnected:
                        tg.cancel_scope.cancel()

                tg.start_soon(read)
                # grouping runs one chunk ahead of sending: the next chunk is grouped
                # (on worker threads) while the socket takes the last one
                grouped_send, grouped_receive = anyio.create_memory_object_stream(1)

                async def group_all() -> None:
                    async with grouped_send, receiver:
                        async for lines in receiver:
                            out = await self.runtime.run(self._process, lines)
                            await grouped_send.send((out, len(lines)))

                tg.start_soon(group_all)
                async with grouped_receive:
                    async for out, n in grouped_receive:
                        total += n
                        await send({"type": "http.response.body", "body": out, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception as exc:  # noqa: BLE001 - headers are sent: end the body, log the type only
            log.error("stream aborted", extra={"route": "/v1/group/stream", "error_type": type(exc).__name__})
            try:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except Exception:  # noqa: BLE001
                pass
        finally:
            self.claims = total
            scope["fastdrg.claims"] = total
            self.runtime.metrics.batch_size.labels("/v1/group/stream").observe(total)
