"""What every Python server of the suite shares, so that each server file shows its IO model and nothing else.

The command line, the listening socket, the banner and the stop signals follow the suite's protocol exactly as the
C++ servers do (README.md, "The protocol"): `--host --port --help`, one `listening on HOST:PORT` line on stdout,
exit 2 with one line for a bad option, exit 1 with `bind HOST:PORT: <strerror>` when the port is taken, and exit 0
within a second of SIGINT or SIGTERM. The Python servers speak raw echo only: `--mode http` is refused.
"""
import argparse
import errno
import os
import signal
import socket
import sys
import threading
import time

DEFAULT_PORT = 7000
# The same backlog as the C++ listeners (common/limits.hpp): socketserver's default of 5 would drop the SYNs of a
# burst of connections, and the clients would wait a second for the kernel to retransmit them.
BACKLOG = 4096
READ_SIZE = 64 * 1024
# docs/PROTOCOL.md: no connection holds more than 1 MiB of unsent output; past it the server stops reading from it.
MAX_PENDING = 1 << 20
# accept() failing with these means the process (or the system) is out of descriptors or memory: keep serving the
# connections there are and try again after a pause, rather than retry at once and spin.
SHED_LOAD = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_PAUSE = 0.1
# How often socketserver's serve_forever() looks for a shutdown request (its default is 0.5 s): a stop must be
# complete within one second of the signal.
POLL_INTERVAL = 0.1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ShedLoadOnAccept:
    """For socketserver's TCP servers: a backlog like the C++ servers' and a pause when accept() runs out of
    descriptors."""

    allow_reuse_address = True
    request_queue_size = BACKLOG

    def get_request(self):
        # socketserver drops a failed accept() and selects again at once; out of descriptors the listener stays
        # readable, so without a pause this loop would spin. The connections there are go on being served.
        try:
            return super().get_request()
        except OSError as error:
            if error.errno in SHED_LOAD:
                time.sleep(ACCEPT_PAUSE)
            raise


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage and then the error: the protocol wants one line.
    def error(self, message):
        sys.stderr.write(f"{self.prog}: {message} (see --help)\n")
        sys.exit(2)


def _port(text):
    try:
        value = int(text, 10)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"'{text}' (expected an integer from 0 to 65535)")
    return value


def _workers(text):
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"'{text}' (expected an integer from 1 to 1024)")
    return value


def parse_options(model, summary, limit=None, threads=None):
    """The parsed command line: .host, .port, .mode and, when the model has workers (threads is their default
    count), .threads. limit is the model's inherent limit, for --help."""
    epilog = ""
    if limit:
        epilog += f"Inherent limit: {limit}\n"
    epilog += (
        "\nProtocol: raw echo (RFC 862) only. This Python server has no HTTP mode: --mode accepts auto and echo\n"
        "(both raw echo) and refuses http. On start it prints 'listening on HOST:PORT' to stdout; SIGINT or\n"
        "SIGTERM stops it.\n")
    parser = _Parser(prog=model, description=f"{model}: {summary}", epilog=epilog, add_help=False,
                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (an IPv6 literal such as ::1 works too; default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help=f"TCP port; 0 picks a free one (default {DEFAULT_PORT})")
    parser.add_argument("--mode", choices=("auto", "echo", "http"), default="auto",
                        help="auto or echo: raw echo; http is refused (this server has no HTTP mode)")
    if threads is not None:
        parser.add_argument("--threads", type=_workers, default=threads,
                            help=f"worker threads: clients served at once (default {threads})")
    parser.add_argument("--help", action="help", help="print this help and exit")

    options, extra = parser.parse_known_args()
    if extra:
        if threads is None and any(arg.split("=")[0] == "--threads" for arg in extra):
            parser.error("option '--threads' is not supported: this model has no worker count")
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not options.host:
        parser.error("invalid value for --host: empty")
    if options.mode == "http":
        parser.error("--mode http is not supported: the Python servers speak raw echo only")
    options.model = model
    options.family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    return options


def format_address(address):
    """'127.0.0.1:7000' or '[::1]:7000' from a socket address tuple."""
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_failed(options, error):
    """Reports a failure to listen on the asked address (exit 1), named as the C++ servers name it."""
    address = format_address((options.host, options.port))
    sys.stderr.write(f"{options.model}: bind {address}: {os.strerror(error.errno or errno.EINVAL)}\n")
    sys.exit(1)


def listen(options):
    """A listening TCP socket on --host and --port (SO_REUSEADDR, as socket.create_server sets it on Linux);
    exits 1 when it cannot be had."""
    try:
        return socket.create_server((options.host, options.port), family=options.family, backlog=BACKLOG)
    except OSError as error:
        bind_failed(options, error)


def announce(sock):
    """Prints the banner the tests and bin/compare wait for, once the socket is listening."""
    print(f"listening on {format_address(sock.getsockname())}", flush=True)


def on_stop(callback):
    """Calls callback() on the first SIGINT or SIGTERM. Python runs signal handlers in the main thread, between
    bytecodes, so callback must not block: it asks the model's loop to end (shut the listener down, start
    socketserver's shutdown in a thread, set a flag the loop checks) rather than raise into whatever the main
    thread is doing, which might hold a lock. Later signals are ignored while the server shuts down.

    A forked child inherits the handler; there the signal ends the child at once (os._exit: there is nothing to
    clean up in a copy of the parent), and the parent reaps it."""
    parent = os.getpid()

    def handler(signo, frame):
        if os.getpid() != parent:
            os._exit(0)
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, signal.SIG_IGN)
        callback()

    for signo in STOP_SIGNALS:
        signal.signal(signo, handler)


class OpenConnections:
    """The sockets that threads are serving, so that a stop can wake every thread blocked in recv() or sendall():
    shutdown(SHUT_RDWR) makes a blocked recv() return b'' and a blocked send() fail with EPIPE (tcp(7))."""

    def __init__(self):
        self._lock = threading.Lock()
        self._sockets = set()

    def add(self, sock):
        with self._lock:
            self._sockets.add(sock)

    def discard(self, sock):
        with self._lock:
            self._sockets.discard(sock)

    def shut_down_all(self):
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its thread, or the peer is gone: either way nothing blocks on it


def serve_until_stopped(server_class, handler, options):
    """Binds a socketserver TCP server (exit 1 when it cannot), prints the banner and serves until SIGINT or
    SIGTERM; returns the server, stopped but not yet closed."""
    server_class.address_family = options.family
    try:
        server = server_class((options.host, options.port), handler)
    except OSError as error:
        bind_failed(options, error)
    # shutdown() waits for serve_forever() to return, so it cannot run in the main thread that serves.
    on_stop(lambda: threading.Thread(target=server.shutdown).start())
    announce(server.socket)
    server.serve_forever(poll_interval=POLL_INTERVAL)
    return server
