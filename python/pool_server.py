"""py-pool: an accept loop feeding a concurrent.futures.ThreadPoolExecutor(5), as in the Python tutorials.

The main thread blocks in accept() and hands each connection to the pool; a worker thread serves one client from
start to end, blocking in recv() and sendall(). Connections beyond the workers wait in the executor's queue,
accepted but unread, until a worker is free. The C++ counterpart is blocking-pool.

Try it:  /usr/bin/python3 python/pool_server.py --port 7000   then   printf 'hello\n' | nc -N 127.0.0.1 7000
"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from server_support import (ACCEPT_PAUSE, POLL_INTERVAL, READ_SIZE, SHED_LOAD, OpenConnections, announce, listen,
                            on_stop, parse_options)

connections = OpenConnections()


def serve(conn):
    # sendall() blocking is the backpressure; recv() returning b'' is the peer's half-close, everything echoed.
    with conn:
        try:
            while data := conn.recv(READ_SIZE):
                conn.sendall(data)
        except ConnectionError:
            pass  # the peer reset or vanished: this connection ends, no other
        finally:
            connections.discard(conn)


def main():
    options = parse_options("py-pool", "an accept loop feeding ThreadPoolExecutor workers", threads=5,
                            limit="--threads clients (default 5) at once; the others wait, accepted, in the queue")
    listener = listen(options)
    # accept() gives up every POLL_INTERVAL to look at the stop flag. A signal that arrives while the main thread
    # is blocked interrupts accept() (EINTR) and Python runs the handler; but one that lands just before the call
    # (or in a thread) only marks the handler as pending, and a blocking accept() would then wait for a client.
    listener.settimeout(POLL_INTERVAL)
    stopping = threading.Event()
    on_stop(stopping.set)
    announce(listener)
    pool = ThreadPoolExecutor(max_workers=options.threads)
    while not stopping.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError as error:
            if error.errno not in SHED_LOAD:
                raise
            time.sleep(ACCEPT_PAUSE)  # out of descriptors: the connections we have go on; try again soon
            continue
        connections.add(conn)
        pool.submit(serve, conn)
    # Wake the workers blocked on their clients; the queued connections are never served, only closed.
    connections.shut_down_all()
    pool.shutdown(wait=True, cancel_futures=True)
    listener.close()


if __name__ == "__main__":
    main()
