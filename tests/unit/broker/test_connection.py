from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import pytest

from riverhead.broker.connection import INITIAL_BUFFER, Connection, FrameTooLarge

pytestmark = pytest.mark.unit


def pair(max_request: int = 1 << 20) -> tuple[Connection, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    return Connection(a, "test", max_request), b


def frame(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def test_frames_split_across_reads_and_pipelined() -> None:
    conn, peer = pair()
    data = frame(b"one") + frame(b"two" * 10) + frame(b"three")
    peer.sendall(data[:5])
    conn.fill()
    assert conn.next_frame() is None
    peer.sendall(data[5:])
    conn.fill()
    assert [bytes(f) for f in iter(conn.next_frame, None)] == [b"one", b"two" * 10, b"three"]


def test_frame_larger_than_buffer_grows_it() -> None:
    conn, peer = pair()
    body = os.urandom(INITIAL_BUFFER * 3)
    peer.sendall(frame(body))
    got = None
    while got is None:
        conn.fill()
        got = conn.next_frame()
    assert bytes(got) == body


@pytest.mark.parametrize("size", [-1, 2**31 - 1])
def test_bad_sizes_raise(size: int) -> None:
    conn, peer = pair(max_request=1000)
    peer.sendall(struct.pack(">i", size))
    conn.fill()
    with pytest.raises(FrameTooLarge):
        conn.next_frame()


def test_eof_is_seen() -> None:
    conn, peer = pair()
    peer.close()
    conn.fill()
    assert conn.eof


class Chunk:
    def __init__(self, fd: int, position: int, size: int) -> None:
        self.fd, self.position, self.size = fd, position, size


def test_flush_sends_bytes_and_file_chunks_in_order(tmp_path: Path) -> None:
    path = tmp_path / "segment"
    path.write_bytes(b"0123456789")
    fd = os.open(path, os.O_RDONLY)
    try:
        conn, peer = pair()
        conn.queue([b"head:", Chunk(fd, 2, 5), b":tail"])
        assert conn.flush()
        assert peer.recv(100) == b"head:23456:tail"
    finally:
        os.close(fd)


def test_flush_resumes_after_a_full_socket() -> None:
    conn, peer = pair()
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    payload = os.urandom(4 << 20)
    conn.queue([payload])
    assert not conn.flush()
    received = bytearray()
    done = False
    while not done:
        received += peer.recv(1 << 20)
        done = conn.flush()
    while len(received) < len(payload):
        received += peer.recv(1 << 20)
    assert bytes(received) == payload
