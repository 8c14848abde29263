"""py-asyncio: asyncio streams, one coroutine per connection on one event loop (epoll underneath).

Each connection's handler reads with `await reader.read()` and writes with `writer.write()` plus
`await writer.drain()`, straight-line code that suspends where a blocking server would block. The event loop
resumes whichever coroutine's socket is ready; one thread runs them all, and every message passes through the
loop's callbacks, the stream's buffer and the coroutine. (uvloop, the faster loop, is not packaged by Debian; this is
the standard library's loop.) The C++ counterparts are coroutine (C++20 coroutines on Asio) and epoll.

asyncio itself handles accept() running out of descriptors: it logs the error, stops accepting and tries again a
second later.

Try it:  /usr/bin/python3 python/asyncio_server.py --port 7000   then   printf 'hello\n' | nc -N 127.0.0.1 7000
"""
import asyncio

from server_support import MAX_PENDING, READ_SIZE, STOP_SIGNALS, announce, listen, parse_options

handlers = set()  # the running connection tasks, so that a stop can cancel them


async def echo(reader, writer):
    handlers.add(asyncio.current_task())
    # drain() waits while more than MAX_PENDING bytes are unsent, and this coroutine reads nothing meanwhile:
    # backpressure. read() returns b'' once the peer has half-closed.
    writer.transport.set_write_buffer_limits(high=MAX_PENDING)
    try:
        while data := await reader.read(READ_SIZE):
            writer.write(data)
            await writer.drain()
        writer.close()  # sends what is still buffered, then closes
        await writer.wait_closed()
    except ConnectionError:
        writer.transport.abort()  # the peer reset or vanished: this connection ends, no other
    except asyncio.CancelledError:
        writer.transport.abort()  # stopping: a peer that does not read must not hold the close up
    finally:
        handlers.discard(asyncio.current_task())


async def serve(options):
    listener = listen(options)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signo in STOP_SIGNALS:
        loop.add_signal_handler(signo, stopping.set)
    # start_server listens again with its own backlog, 100. Raising it to the suite's 4096 also makes asyncio try
    # 4096 accepts per wakeup, and then, out of descriptors, a new client was not served within 5 s (the descriptor
    # exhaustion test): asyncio's default is kept.
    server = await asyncio.start_server(echo, sock=listener, limit=READ_SIZE)
    announce(listener)
    await stopping.wait()
    server.close()
    for task in list(handlers):
        task.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)
    await server.wait_closed()


def main():
    options = parse_options("py-asyncio", "asyncio streams: a coroutine per connection on one event loop")
    asyncio.run(serve(options))


if __name__ == "__main__":
    main()
