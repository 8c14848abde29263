"""py-gevent: gevent's StreamServer, a greenlet per connection on one thread (libev/libuv underneath).

gevent replaces the blocking socket calls with ones that switch to another greenlet when they would block, so the
handler is the plain blocking loop of py-threading, yet one OS thread serves every client: a greenlet switch
instead of a thread switch, and no GIL hand-offs. The C++ counterpart is coroutine (C++20 coroutines on Asio),
the same idea with the suspension points visible.

gevent itself handles accept() running out of descriptors: it stops accepting and retries after a growing pause.

Try it:  /usr/bin/python3 python/gevent_server.py --port 7000   then   printf 'hello\n' | nc -N 127.0.0.1 7000
"""
import gevent
import gevent.event
from gevent.server import StreamServer

from server_support import BACKLOG, READ_SIZE, STOP_SIGNALS, announce, bind_failed, parse_options


def echo(sock, address):
    # sendall() parks this greenlet while the peer does not read, and nothing reads meanwhile: backpressure.
    # recv() returns b'' once the peer has half-closed; StreamServer closes the socket when this returns.
    try:
        while data := sock.recv(READ_SIZE):
            sock.sendall(data)
    except ConnectionError:
        pass  # the peer reset or vanished: this connection ends, no other


def main():
    options = parse_options("py-gevent", "gevent StreamServer: a greenlet per connection on one thread")
    # StreamServer makes its own listening socket, a gevent one: a standard blocking socket would block the
    # whole hub in accept().
    server = StreamServer((options.host, options.port), echo, backlog=BACKLOG)
    stopping = gevent.event.Event()
    for signo in STOP_SIGNALS:
        gevent.signal_handler(signo, stopping.set)
    try:
        server.start()
    except OSError as error:
        bind_failed(options, error)
    announce(server.socket)
    stopping.wait()
    # Stop accepting, then kill the greenlets at once: one blocked on a peer that does not read would hold a
    # graceful stop up until its timeout.
    server.stop(timeout=0)


if __name__ == "__main__":
    main()
