"""py-threading: socketserver.ThreadingTCPServer, a thread per connection, as in the Python tutorials.

The main thread waits for connections (serve_forever: a selector on the listening socket) and starts a new thread
for each one; that thread blocks in recv() and sendall() for its client alone. Every thread runs Python bytecode only
while it holds the GIL, so however many cores there are, the echo loops of all clients take turns on one of them.
The C++ counterpart is blocking-threads.

Try it:  /usr/bin/python3 python/threading_server.py --port 7000   then   printf 'hello\n' | nc -N 127.0.0.1 7000
"""
import socketserver

from server_support import READ_SIZE, OpenConnections, ShedLoadOnAccept, parse_options, serve_until_stopped

connections = OpenConnections()


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        # sendall() blocks while the peer does not read, so this thread stops reading too: backpressure, with
        # at most one READ_SIZE chunk pending. recv() returns b'' once the peer has half-closed; everything
        # received has been sent back by then, and socketserver closes the connection when handle() returns.
        try:
            while data := self.request.recv(READ_SIZE):
                self.request.sendall(data)
        except ConnectionError:
            pass  # the peer reset or vanished: this connection ends, no other

    def finish(self):
        connections.discard(self.request)


class EchoServer(ShedLoadOnAccept, socketserver.ThreadingTCPServer):
    # block_on_close (the default) makes server_close() join every connection thread: reaped, not abandoned.

    def process_request(self, request, client_address):
        # Registered here, in the main thread, before its thread starts: a stop then reaches every connection.
        connections.add(request)
        super().process_request(request, client_address)


def main():
    options = parse_options("py-threading", "socketserver.ThreadingTCPServer: a thread per connection")
    server = serve_until_stopped(EchoServer, EchoHandler, options)
    connections.shut_down_all()
    server.server_close()


if __name__ == "__main__":
    main()
