"""The request engine: the Leader/Followers pattern over one shared epoll set.

A pool of ``num.io.threads`` threads shares one epoll handle set. One thread at a time is
the *leader*: it holds ``_leader`` and waits in ``epoll.poll`` for a single event. Every
connection is registered ``EPOLLONESHOT``, so the event takes the connection out of the
set. The leader then releases ``_leader`` — promoting a waiting follower to leader — and
itself reads, decodes, handles and answers the requests of that connection, then re-arms
it and rejoins the pool as a follower. There is no hand-off queue between an I/O thread
and a worker thread: the thread that sees the event does the work, which saves two
context switches and a queue per request.

Listening sockets stay level-triggered and are accepted from by the leader itself.

A request the handler cannot answer yet (a long-poll fetch) *parks* the connection: the
handler returns :data:`PARKED` and hands the connection to a delayed operation, which
calls :meth:`RequestEngine.resume` with the response when it completes. Until then the
connection is not re-armed, so later requests on it wait and responses stay in order.

Output that the socket cannot take at once is kept in the connection and the socket is
re-armed for ``EPOLLOUT`` instead of ``EPOLLIN``; whichever thread gets that event goes
on writing. Thread-safety: see :mod:`riverhead.broker.connection` (ownership).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Final

from riverhead.broker.connection import Connection, FileChunk, FrameTooLarge
from riverhead.security.quotas import ConnectionLimiter

log = logging.getLogger("riverhead.broker.engine")

Parts = list[bytes | FileChunk]


class _Parked:
    def __repr__(self) -> str:
        return "PARKED"


PARKED: Final = _Parked()
Dispatch = Callable[[Connection, memoryview], "Parts | _Parked | None"]
# Makes the Connection for an accepted socket (TLS listeners wrap it; see riverhead.security).
ConnectionFactory = Callable[[socket.socket, str, int], Connection]

_READ = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLONESHOT
_WRITE = select.EPOLLOUT | select.EPOLLONESHOT


class RequestEngine:
    def __init__(
        self,
        dispatch: Dispatch,
        *,
        threads: int = 4,
        max_request_bytes: int = 100 << 20,
        max_connections: int = 10_000,
    ) -> None:
        self.dispatch = dispatch
        self.threads = max(1, threads)
        self.max_request_bytes = max_request_bytes
        self.max_connections = max_connections
        self._epoll = select.epoll()
        self._leader = threading.Lock()
        self._listeners: dict[int, socket.socket] = {}
        self._factories: dict[int, ConnectionFactory] = {}
        # max.connections.per.ip (riverhead.security.quotas); None: no per-address counting.
        self.limiter: ConnectionLimiter | None = None
        self._conns: dict[int, Connection] = {}
        self._conns_lock = threading.Lock()
        self._running = False
        self._pool: list[threading.Thread] = []
        self.busy_threads = 0  # threads currently handling a connection (for metrics)
        # Called with the nanoseconds a thread spent serving a connection (metrics on).
        self.on_busy: Callable[[int], None] | None = None

    # ---- life cycle ---------------------------------------------------------------
    def listen(
        self,
        host: str,
        port: int,
        backlog: int = 1024,
        *,
        factory: ConnectionFactory | None = None,
    ) -> int:
        """Open a listening socket; returns the bound port (useful with port 0).
        ``factory`` builds each accepted connection (default: a plain :class:`Connection`)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
        self._listeners[sock.fileno()] = sock
        if factory is not None:
            self._factories[sock.fileno()] = factory
        self._epoll.register(sock.fileno(), select.EPOLLIN)
        return int(sock.getsockname()[1])

    def start(self) -> None:
        self._running = True
        for i in range(self.threads):
            t = threading.Thread(target=self._run, name=f"riverhead-io-{i}", daemon=True)
            t.start()
            self._pool.append(t)

    def stop(self) -> None:
        """Stop accepting and serving; close every connection. Idempotent."""
        self._running = False
        for t in self._pool:
            t.join(timeout=5)
        self._pool.clear()
        for sock in self._listeners.values():
            sock.close()
        self._listeners.clear()
        with self._conns_lock:
            conns = list(self._conns.values())
            self._conns.clear()
        for conn in conns:
            conn.close()
        self._epoll.close()

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    # ---- the Leader/Followers loop ------------------------------------------------
    def _run(self) -> None:
        while self._running:
            with self._leader:  # become the leader: the only thread waiting on epoll
                if not self._running:
                    return
                try:
                    events = self._epoll.poll(0.2, 1)
                except (OSError, ValueError):
                    return
                if not events:
                    continue
                fd, mask = events[0]
                if fd in self._listeners:
                    self._accept(self._listeners[fd])
                    continue
                conn = self._conns.get(fd)
            # Leaving the ``with`` promotes a follower; this thread now serves ``conn``.
            if conn is not None:
                self.busy_threads += 1
                started = time.perf_counter_ns()
                try:
                    self._serve(conn, mask)
                except Exception:  # a handler bug must not kill the pool thread
                    log.exception("closing connection %s after an unexpected error", conn.addr)
                    self._close(conn)
                finally:
                    self.busy_threads -= 1
                    if self.on_busy is not None:
                        self.on_busy(time.perf_counter_ns() - started)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            if len(self._conns) >= self.max_connections:
                log.warning("refusing %s: max.connections=%d reached", addr, self.max_connections)
                sock.close()
                continue
            if self.limiter is not None and not self.limiter.acquire(addr[0]):
                log.warning(
                    "refusing %s: max.connections.per.ip=%d reached for %s",
                    addr, self.limiter.limit(addr[0]), addr[0],
                )
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            factory = self._factories.get(listener.fileno())
            if factory is None:
                conn = Connection(sock, f"{addr[0]}:{addr[1]}", self.max_request_bytes)
            else:
                try:
                    conn = factory(sock, f"{addr[0]}:{addr[1]}", self.max_request_bytes)
                except (OSError, ValueError) as exc:
                    log.info("refusing %s: %s", addr, exc)
                    sock.close()
                    if self.limiter is not None:
                        self.limiter.release(addr[0])
                    continue
            with self._conns_lock:
                self._conns[conn.fd] = conn
            self._epoll.register(conn.fd, _READ)

    def _serve(self, conn: Connection, mask: int) -> None:
        if conn.handshaking:  # TLS: drive the handshake without blocking this thread
            try:
                want = conn.handshake()
            except (OSError, ValueError) as exc:
                log.info("closing %s: TLS handshake failed: %s", conn.addr, exc)
                self._close(conn)
                return
            if want is not None:
                self._arm(conn, _WRITE if want == "write" else _READ)
                return
        if conn.out:
            try:
                done = conn.flush()
            except OSError:  # the peer went away mid-response: not a broker error
                self._close(conn)
                return
            if not done:
                self._arm(conn, _WRITE)
                return
        if mask & (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
            try:
                conn.fill()
            except OSError:
                self._close(conn)
                return
        self._process(conn)

    def _process(self, conn: Connection) -> None:
        """Handle every complete frame buffered, in order, then write and re-arm."""
        while not conn.closed:
            try:
                frame = conn.next_frame()
            except FrameTooLarge as exc:
                log.warning("closing connection: %s", exc)
                self._close(conn)
                return
            if frame is None:
                break
            reply = self.dispatch(conn, frame)
            del frame
            if reply is PARKED:
                return  # a delayed operation owns the connection now
            if reply is None:  # the dispatcher asked to close the connection
                self._close(conn)
                return
            assert isinstance(reply, list)
            if reply:
                conn.queue(reply)
                # Write eagerly when output piles up, so a pipelining client can't make
                # the broker buffer unbounded responses.
                if len(conn.out) > 64:
                    try:
                        done = conn.flush()
                    except OSError:
                        self._close(conn)
                        return
                    if not done:
                        self._arm(conn, _WRITE)
                        return
        self._finish(conn)

    def _finish(self, conn: Connection) -> None:
        if conn.closed:
            return
        try:
            done = conn.flush()
        except OSError:
            self._close(conn)
            return
        if not done:
            self._arm(conn, _WRITE)
        elif conn.eof:
            self._close(conn)
        else:
            self._arm(conn, _READ)

    def resume(self, conn: Connection, parts: Parts | None) -> None:
        """Complete a parked request: queue its response, then serve what followed it.
        ``parts=None`` closes the connection (the response could not be built)."""
        if conn.closed:
            return
        if parts is None:
            self._close(conn)
            return
        conn.queue(parts)
        try:
            self._process(conn)
        except Exception:
            log.exception("closing connection %s after an unexpected error", conn.addr)
            self._close(conn)

    def _arm(self, conn: Connection, events: int) -> None:
        try:
            self._epoll.modify(conn.fd, events)
        except (OSError, ValueError):
            self._close(conn)

    def _close(self, conn: Connection) -> None:
        with self._conns_lock:
            # Only this connection's entry: its fd may already serve a newer connection.
            known = self._conns.get(conn.fd) is conn
            if known:
                del self._conns[conn.fd]
        if known and self.limiter is not None:
            self.limiter.release(conn.addr.rpartition(":")[0])
        if not conn.closed:
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(conn.fd)
            conn.close()
