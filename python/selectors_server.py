"""py-selectors: one thread, one selectors.DefaultSelector (epoll on Linux), non-blocking sockets.

The loop asks the selector which sockets are ready, reads what is there and writes what the socket takes, keeping
the rest in the connection's outbox. It never blocks on one client, so one thread serves them all; each event
costs a trip through the interpreter. The C++ counterparts are epoll (the same system calls) and poll.

Try it:  /usr/bin/python3 python/selectors_server.py --port 7000   then   printf 'hello\n' | nc -N 127.0.0.1 7000
"""
import selectors
import signal
import socket
import time

from server_support import (ACCEPT_PAUSE, MAX_PENDING, READ_SIZE, SHED_LOAD, announce, listen, on_stop,
                            parse_options)


class Connection:
    def __init__(self, sock):
        self.sock = sock
        self.outbox = bytearray()  # received, not yet sent back
        self.peer_done = False     # the peer has half-closed: close once the outbox is empty

    def wanted(self):
        """The events to wait for: read while under the pending limit (backpressure), write while owing."""
        events = 0
        if not self.peer_done and len(self.outbox) < MAX_PENDING:
            events |= selectors.EVENT_READ
        if self.outbox:
            events |= selectors.EVENT_WRITE
        return events


def on_readable(conn):
    data = conn.sock.recv(READ_SIZE)
    if data:
        conn.outbox += data
    else:
        conn.peer_done = True


def on_writable(conn):
    sent = conn.sock.send(conn.outbox)
    del conn.outbox[:sent]


def main():
    options = parse_options("py-selectors", "one thread multiplexes every socket with the selectors module (epoll)")
    listener = listen(options)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    # The self-pipe trick: for a signal that has a Python handler, Python writes its number to the wakeup socket,
    # which makes select() return (by PEP 475 it would otherwise resume waiting after the handler). The handler
    # itself has nothing to do: the readable wakeup socket ends the loop.
    wakeup, wakeup_writer = socket.socketpair()
    wakeup_writer.setblocking(False)
    signal.set_wakeup_fd(wakeup_writer.fileno())
    selector.register(wakeup, selectors.EVENT_READ)
    on_stop(lambda: None)
    stopping = False
    announce(listener)
    resume_accepting = None  # while out of descriptors: when to listen again

    while not stopping:
        timeout = None if resume_accepting is None else max(0.0, resume_accepting - time.monotonic())
        for key, events in selector.select(timeout):
            if key.fileobj is wakeup:
                stopping = True
                continue
            if key.fileobj is listener:
                try:
                    sock, _ = listener.accept()
                except BlockingIOError:
                    continue  # another event took it, or the client gave up
                except OSError as error:
                    if error.errno not in SHED_LOAD:
                        raise
                    # Out of descriptors: serve the connections we have, stop watching the listener a while.
                    selector.unregister(listener)
                    resume_accepting = time.monotonic() + ACCEPT_PAUSE
                    continue
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, Connection(sock))
                continue
            conn = key.data
            try:
                if events & selectors.EVENT_READ:
                    on_readable(conn)
                if events & selectors.EVENT_WRITE or conn.outbox:
                    on_writable(conn)  # try at once: usually the socket takes it all without a wait
            except (BlockingIOError, InterruptedError):
                pass
            except ConnectionError:
                conn.peer_done, conn.outbox = True, bytearray()  # the peer reset or vanished: end this one
            if conn.peer_done and not conn.outbox:
                selector.unregister(conn.sock)
                conn.sock.close()
            elif conn.wanted() != key.events:
                selector.modify(conn.sock, conn.wanted(), conn)
        if resume_accepting is not None and time.monotonic() >= resume_accepting:
            selector.register(listener, selectors.EVENT_READ)
            resume_accepting = None
    for key in list(selector.get_map().values()):
        key.fileobj.close()
    selector.close()
    wakeup_writer.close()


if __name__ == "__main__":
    main()
