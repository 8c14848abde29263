#!/usr/bin/env python3
"""Writes the checked-in seed corpora of the fuzz harnesses (fuzz/corpus/NAME/) from the unit tests' cases
(tests/session_test.cpp, tests/loadgen_http_test.cpp). Rerun after adding a case; the files are small on purpose."""
import hashlib
import pathlib

HERE = pathlib.Path(__file__).resolve().parent

# Requests and byte streams the Session tests use: valid, pipelined, chunked, and each kind the protocol refuses.
SESSION = [
    b"hello, raw echo\n", bytes(range(256)), b"GET", b"GE", b"OPTIONS ", b"get / HTTP/1.1\r\n\r\n",
    b"GET\t/ HTTP/1.1\r\n\r\n", b"CONNECT host:80 HTTP/1.1\r\n\r\n",
    b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c=d\r\nhello\r\n6 ; q=\"x\\\"y\"\r\n world\r\n0\r\nT: v\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
    b"HEAD /x HTTP/1.1\r\n\r\n", b"HEAD / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    b"GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
    b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
    b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
    b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", b"GET / HTTP/1.1\rX: y\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /\r\n\r\n", b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: " + b"a" * 8200 + b"\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + b"b" * 100,
    b"\r\n\r\nGET /after-empty-lines HTTP/1.1\r\n\r\n",
    # New cases go last, so that the seeds of the earlier ones keep their names.
    b"CONNECT h:1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n",
]

# Response heads the loadgen tests use, good and broken.
RESPONSES = [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\ncontent-length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 17\r\nConnection: close\r\n\r\n400 Bad Request\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
    b"HTTX/1.1 200 OK\r\n\r\n", b"HTTP/1.1 20 OK\r\n\r\n", b"HTTP/1.1 2x0 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", b"HTTP/1.1 200 OK\r\n" + b"X-Filler: aaaa\r\n" * 40,
]


def write(name, inputs):
    folder = HERE / "corpus" / name
    folder.mkdir(parents=True, exist_ok=True)
    # Only this script's seeds (16 hex digits) are replaced; the inputs kept from fuzz campaigns (libFuzzer's full
    # 40-digit names) stay.
    for old in folder.iterdir():
        if len(old.name) == 16:
            old.unlink()
    for data in inputs:
        (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def session_inputs():
    # Header byte 0: mode (0 auto, 1 echo, 2 http), 4 half-close, 8 small max-body, 0x50 repeat; byte 1 repeat count;
    # bytes 2-7 split seed.
    out = []
    for i, payload in enumerate(SESSION):
        for flags in (0, 4, 2 | 8):
            seed = bytes([(i * 37 + flags) & 0xFF, 1, 2, 3, 4, 5])
            out.append(bytes([flags, 0]) + seed + payload)
    # Backpressure: a raw stream and pipelined requests repeated past 1 MiB, drained in small pieces.
    out.append(bytes([0x51, 0xFF, 9, 9, 9, 9, 9, 9]) + bytes(range(256)) * 16)
    out.append(bytes([0x52, 0xFF, 7, 7, 7, 7, 7, 7]) + b"GET /x HTTP/1.1\r\n\r\n" * 4)
    return out


def response_inputs():
    return [bytes([i, 7, 3, 1]) + r for i, r in enumerate(RESPONSES)]


if __name__ == "__main__":
    write("session_fuzz", session_inputs())
    write("http_response_fuzz", response_inputs())
