"""A single-threaded asyncio (uvloop) front end for the broker's own dispatcher and handlers.

The baseline that :mod:`engine_vs_asyncio` compares the Leader/Followers engine
(:mod:`riverhead.broker.engine`) against. Everything behind the socket is the broker's:
``BrokerConfig.load`` -> ``BrokerState`` -> ``Dispatcher`` -> ``handlers/*``. Only the
network layer differs:

* one event-loop thread (uvloop) serves every connection; no epoll hand-off between
  threads, no GIL contention between I/O threads;
* input is read with ``asyncio.BufferedProtocol`` straight into a per-connection
  ``bytearray`` and frames are handed to the dispatcher as ``memoryview`` slices, as
  :class:`riverhead.broker.connection.Connection` does (the buffer is never resized in
  place while views may be alive; it is replaced);
* output goes through ``transport.writelines``; record chunks (``FileChunk``) are read with
  ``os.pread`` (uvloop has no native ``sendfile``: ``loop.sendfile`` falls back to
  read+write anyway), i.e. one more copy than the engine's ``os.sendfile``;
* a parked request (long-poll fetch) pauses reading on that connection; the dispatcher's
  ``resume`` callback may run on the purgatory thread, so it hops to the loop with
  ``call_soon_threadsafe``; the loop writes the reply and goes on with buffered requests.

Run: ``python benchmarks/asyncio_server.py --set listeners=PLAINTEXT://127.0.0.1:9092
--set log.dirs=/tmp/x``; SIGTERM/SIGINT stops it and shuts the state down cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import struct
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from riverhead.broker.config import BrokerConfig, parse_set_flags
from riverhead.broker.dispatch import Dispatcher
from riverhead.broker.engine import PARKED
from riverhead.broker.server import configure_logging
from riverhead.broker.state import BrokerState

log = logging.getLogger("benchmarks.asyncio_server")

INITIAL_BUFFER = 64 * 1024
_SIZE = struct.Struct(">i")


class KafkaProtocol(asyncio.BufferedProtocol):
    """One client connection; also the ``conn`` object handed to the dispatcher (handlers
    only keep it to pass back to ``resume``; the dispatcher logs ``conn.addr``)."""

    def __init__(self, server: AsyncioBroker) -> None:
        self.server = server
        self.dispatch = server.dispatcher
        self.max_request_bytes = server.max_request_bytes
        self.buf = bytearray(INITIAL_BUFFER)
        self.start = 0
        self.end = 0
        self.addr = "?"
        self.parked = False
        self.closed = False
        self.write_paused = False
        self.transport: asyncio.Transport | None = None

    # ---- asyncio callbacks ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport
        peer = transport.get_extra_info("peername")
        self.addr = f"{peer[0]}:{peer[1]}" if peer else "?"
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.start == self.end:
            self.start = self.end = 0
        if self.end == len(self.buf):
            self._make_room(len(self.buf) - self.start + INITIAL_BUFFER)
        return memoryview(self.buf)[self.end :]

    def buffer_updated(self, nbytes: int) -> None:
        self.end += nbytes
        if not self.parked:
            self._process()

    def eof_received(self) -> bool:
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.transport is not None and not self.parked and not self.closed:
            self.transport.resume_reading()

    # ---- frames -----------------------------------------------------------------------
    def _make_room(self, needed: int) -> None:
        new = bytearray(max(INITIAL_BUFFER, needed, len(self.buf)))
        pending = self.end - self.start
        new[:pending] = self.buf[self.start : self.end]
        self.buf = new
        self.start = 0
        self.end = pending

    def _next_frame(self) -> memoryview | None:
        avail = self.end - self.start
        if avail < 4:
            return None
        (size,) = _SIZE.unpack_from(self.buf, self.start)
        if size < 0 or size > self.max_request_bytes:
            log.warning("closing %s: request of %d bytes is too large", self.addr, size)
            self.close()
            return None
        if avail < 4 + size:
            if self.start + 4 + size > len(self.buf):
                self._make_room(4 + size)
            return None
        frame = memoryview(self.buf)[self.start + 4 : self.start + 4 + size]
        self.start += 4 + size
        return frame

    def _process(self) -> None:
        while not self.closed and not self.parked:
            frame = self._next_frame()
            if frame is None:
                return
            reply = self.dispatch(self, frame)  # type: ignore[arg-type]
            del frame
            if reply is PARKED:
                self.parked = True
                assert self.transport is not None
                self.transport.pause_reading()
                return
            if reply is None:
                self.close()
                return
            if reply:
                self.write(reply)  # type: ignore[arg-type]

    # ---- output -----------------------------------------------------------------------
    def write(self, parts: list[Any]) -> None:
        if self.closed or self.transport is None:
            return
        out = [
            part if isinstance(part, bytes) else os.pread(part.fd, part.size, part.position)
            for part in parts
        ]
        self.transport.writelines(out)

    def resumed(self, parts: list[Any]) -> None:
        """On the loop: a parked request completed; send it, then serve what followed."""
        if self.closed:
            return
        self.write(parts)
        self.parked = False
        self._process()
        if not self.parked and not self.write_paused and not self.closed:
            assert self.transport is not None
            self.transport.resume_reading()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()


class AsyncioBroker:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.state = BrokerState(config)
        self.dispatcher = Dispatcher(self.state)
        self.dispatcher.resume = self._resume  # type: ignore[assignment]
        self.max_request_bytes = config.get_int("socket.request.max.bytes")
        self.loop: asyncio.AbstractEventLoop | None = None

    def _resume(self, conn: KafkaProtocol, parts: list[Any]) -> None:
        # Called by a delayed operation: from the purgatory timer thread, or on the loop
        # from inside another connection's produce (purgatory.notify). Always defer, so a
        # connection is never processed re-entrantly.
        assert self.loop is not None
        self.loop.call_soon_threadsafe(conn.resumed, parts)

    async def serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.state.start()
        servers = []
        for listener in self.config.listeners:
            servers.append(
                await self.loop.create_server(
                    lambda: KafkaProtocol(self),
                    listener.host,
                    listener.port,
                    backlog=1024,
                    reuse_address=True,
                )
            )
        log.info("asyncio broker serving on %s", ", ".join(map(str, self.config.listeners)))
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down")
        for server in servers:
            server.close()
        self.state.shutdown()
        log.info("shut down cleanly")


def main(argv: list[str]) -> int:
    import uvloop

    configure_logging()
    sets = [argv[i + 1] for i in range(len(argv) - 1) if argv[i] == "--set"]
    config = BrokerConfig.load(overrides=parse_set_flags(sets), environ={})
    uvloop.install()
    asyncio.run(AsyncioBroker(config).serve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
