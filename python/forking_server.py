"""py-forking: socketserver.ForkingTCPServer, a process per connection, as in the Python tutorials.

The parent waits for connections and forks a child for each one; the child blocks in recv() and sendall() for
its client, then exits. Each child is a whole Python interpreter: the fork copies the parent's pages on write, and
CPython's reference counts write to nearly every object it touches, so a child soon owns a copy of much of the
interpreter. socketserver reaps finished children each time round serve_forever's loop (every 0.5 s) and before
each fork. The C++ counterpart is blocking-fork.

Inherent limit: socketserver's max_children (40) children at once; the 41st client waits in the backlog until a
child exits, because the parent blocks in waitpid() before forking again.

Try it:  /usr/bin/python3 python/forking_server.py --port 7000   then   printf 'hello\n' | nc -N 127.0.0.1 7000
"""
import os
import signal
import socketserver

from server_support import READ_SIZE, ShedLoadOnAccept, parse_options, serve_until_stopped


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        # As in py-threading, but in a child process: sendall() blocking is the backpressure, b'' the half-close.
        try:
            while data := self.request.recv(READ_SIZE):
                self.request.sendall(data)
        except ConnectionError:
            pass  # the peer reset or vanished: this child ends, no other


class EchoServer(ShedLoadOnAccept, socketserver.ForkingTCPServer):
    """socketserver forks a child per connection; the mixin adds the backlog and the pause on a failed accept."""


def main():
    options = parse_options("py-forking", "socketserver.ForkingTCPServer: a process per connection",
                            limit=f"{EchoServer.max_children} children (socketserver's max_children) at once; "
                                  "further clients wait in the backlog")
    server = serve_until_stopped(EchoServer, EchoHandler, options)
    # The children inherited the stop handler, which ends a child at once; server_close() then waits for each.
    for pid in list(server.active_children or ()):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # exited already; server_close() reaps it
    server.server_close()


if __name__ == "__main__":
    main()
