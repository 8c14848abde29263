// coroutine: C++20 coroutines on standalone Asio; every connection is one coroutine written as a plain loop.
//
// serve() reads like the blocking server: read some, send everything owed, repeat until done. Each co_await
// is a suspension point: when the socket is not ready the coroutine's frame stays on the heap, the thread goes
// back to the io_context (epoll underneath) and serves whichever connection is ready. This is what gevent does
// to Python's blocking sockets by monkey-patching; here the suspension points are explicit and typed.
// Errors come back as values (as_tuple), not exceptions; an exception that still escapes a coroutine is
// caught by co_spawn's completion handler and logged, never rethrown into the io_context.
//
// --threads N runs N threads, each with its own io_context and its own SO_REUSEPORT acceptor, rather than N
// threads sharing one io_context: a connection then lives on one thread for good, so nothing needs a lock or
// a strand, and it is the same shape as epoll --threads. The price: the kernel spreads connections, not load.
//
// Inherent limit: none beyond epoll's. Per connection: serve()'s frame (416 bytes with GCC 12 -O2) plus Asio's
// state; no read buffer while the peer is idle (serve() waits for readability, then reads). A connection writes
// everything owed before reading again, so at most one read's worth of output is ever pending (backpressure).
//
// Try it:  bin/coroutine --port 7000 &  printf 'hello\n' | nc -N 127.0.0.1 7000
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <atomic>
#include <chrono>
#include <list>
#include <thread>
#include <vector>

#include "common/accept.hpp"
#include "common/errors.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"

namespace {
using namespace iomodels;
using asio::awaitable;
using asio::ip::tcp;

// Completion token: co_await yields (error_code, results...) instead of throwing.
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

// One thread's io_context, its acceptor and its connections. Nothing here is touched by another thread
// except through asio::post.
struct Worker {
  const Server* server = nullptr;
  std::atomic<std::size_t>* open_connections = nullptr;  // all workers: --max-conns
  std::list<tcp::socket*> sockets;  // every connection's socket, for shutdown; outlives the io_context
  asio::io_context context{1};      // concurrency hint: one thread runs it
  tcp::acceptor acceptor{context};
  tcp protocol = tcp::v4();         // the listener's, for the sockets accept_round() hands over
  asio::steady_timer accept_retry{context};
  bool accept_paused = false;
};

// A connection's entry in its worker's list, removed when the coroutine ends (or its frame is destroyed).
class Registration {
 public:
  Registration(Worker& worker, tcp::socket& socket)
      : worker_(worker), entry_(worker.sockets.insert(worker.sockets.end(), &socket)) {
    worker_.open_connections->fetch_add(1, std::memory_order_relaxed);
  }
  ~Registration() {
    worker_.sockets.erase(entry_);
    worker_.open_connections->fetch_sub(1, std::memory_order_relaxed);
    if (worker_.accept_paused) worker_.accept_retry.cancel();  // a descriptor is free: accept again now
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  Worker& worker_;
  std::list<tcp::socket*>::iterator entry_;
};

// A failed read or write ends its connection; only what is neither the peer leaving nor our own shutdown
// is worth a line.
void report(const asio::error_code& error, const char* call) {
  if (error == asio::error::operation_aborted || error == asio::error::bad_descriptor) return;
  if (error.category() != asio::system_category()) return log_message(std::string(call) + ": " + error.message());
  if (classify_errno(error.value()) == ErrnoClass::kBug) die_errno(call, error.value());
  if (classify_errno(error.value()) != ErrnoClass::kPeerGone) log_errno(call, error.value());
}

awaitable<void> serve(Worker& worker, tcp::socket socket) {
  const Registration registration(worker, socket);
  Session session(worker.server->session);
  asio::error_code nonblocking_error;
  socket.non_blocking(true, nonblocking_error);  // read_some below must return would_block, never block the thread
  if (nonblocking_error) co_return report(nonblocking_error, "fcntl O_NONBLOCK");
  while (!session.done()) {
    if (session.has_output()) {
      const auto out = session.pending_output();
      auto [error, n] = co_await asio::async_write(socket, asio::buffer(out.data(), out.size()), kNoThrow);
      if (error) co_return report(error, "send");
      session.consume_output(n);
      continue;
    }
    // Read first, wait only when there was nothing: async_read_some would hold the session's read buffer (16 KiB
    // asked of malloc, its first page touched) for as long as the peer stays quiet, which made an idle connection
    // cost 5.8 KiB. Waiting for readability holds no buffer, so an idle coroutine owns only its frame and socket.
    const auto space = session.read_buffer();
    asio::error_code error;
    const std::size_t n = socket.read_some(asio::buffer(space.data(), space.size()), error);  // non-blocking
    if (error == asio::error::would_block || error == asio::error::try_again) {
      session.release_read_buffer();
      auto [wait_error] = co_await socket.async_wait(tcp::socket::wait_read, kNoThrow);
      if (wait_error) co_return report(wait_error, "recv");
      continue;
    }
    if (error == asio::error::eof) {
      session.receive_eof();
    } else if (error) {
      co_return report(error, "recv");
    } else {
      session.commit_read(n);
    }
  }
}  // the socket closes as the frame is destroyed

// Logs an exception that escaped a coroutine; co_spawn would otherwise rethrow it out of io_context::run.
void log_if_thrown(std::exception_ptr thrown) {
  if (!thrown) return;
  try {
    std::rethrow_exception(thrown);
  } catch (const std::exception& e) {
    log_message(std::string("coroutine ended by an exception: ") + e.what());
  } catch (...) {
    log_message("coroutine ended by an unknown exception");
  }
}

// A new connection: closed at once over --max-conns, else its own coroutine.
void adopt(Worker& worker, tcp::socket socket) {
  if (over_connection_limit(worker.server->options, worker.open_connections->load(std::memory_order_relaxed))) {
    return;  // the socket closes here
  }
  asio::co_spawn(worker.context, serve(worker, std::move(socket)), log_if_thrown);
}

awaitable<void> accept_connections(Worker& worker) {
  while (worker.acceptor.is_open()) {
    auto [error, socket] = co_await worker.acceptor.async_accept(kNoThrow);
    AcceptResult result = AcceptResult::kAccepted;
    if (error) {
      if (!worker.acceptor.is_open()) break;  // shutdown closed it
      result = accept_failed(error.value());
    } else {
      // Asio 1.22 accepts with accept(2), not accept4(2): the descriptor is not close-on-exec by itself.
      ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
      set_nodelay(socket.native_handle());
      adopt(worker, std::move(socket));
      // Then the others already waiting (accept_round: at most kAcceptsPerRound), without a trip through the
      // scheduler each: under a closed-loop load every busy connection's completion is queued ahead of the next
      // async_accept's, so one accept per trip left 4,000 of 10,000 connections unaccepted for over 10 s
      // (bench/c10k.sh).
      result = accept_round(worker.acceptor.native_handle(), [&worker](UniqueFd fd) {
        tcp::socket accepted(worker.context);
        asio::error_code assign_error;
        accepted.assign(worker.protocol, fd.get(), assign_error);
        if (assign_error) return log_message("assign accepted socket: " + assign_error.message());
        fd.release();
        adopt(worker, std::move(accepted));
      });
    }
    if (result == AcceptResult::kShed) {
      // The pending connection stays in the backlog; accepting again at once would spin.
      worker.accept_paused = true;
      worker.accept_retry.expires_after(kShedLoadPause);
      co_await worker.accept_retry.async_wait(kNoThrow);  // or cancelled when a connection closes
      worker.accept_paused = false;
    }
  }
}

// Runs on the worker's own thread: stop accepting, close every connection even with output pending, stop.
void stop_worker(Worker& worker) {
  asio::error_code ignored;
  worker.acceptor.close(ignored);
  worker.accept_retry.cancel();
  worker.accept_paused = false;  // frames destroyed with the io_context must not touch the timer
  for (tcp::socket* socket : worker.sockets) socket->close(ignored);
  worker.context.stop();  // the coroutines' frames are destroyed with the io_context
}

tcp protocol_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) die_errno("getsockname", errno);
  return address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
}

const ModelInfo kModel{
    .name = "coroutine",
    .summary = "C++20 coroutines on Asio: each connection is a coroutine that suspends on IO",
    .default_threads = 1,
    .threads_help = "threads, each with its own io_context and SO_REUSEPORT acceptor",
};

}  // namespace

int main(int argc, char** argv) {
  Server server = start_server(argc, argv, kModel, {.nonblocking = true, .listener_per_thread = true});
  const int threads = server.options.threads;
  const tcp protocol = protocol_of(server.listener.get());
  std::vector<UniqueFd> listeners = open_listeners(server, threads);

  std::atomic<std::size_t> open_connections{0};
  std::vector<Worker> workers(threads);
  for (int i = 0; i < threads; ++i) {
    Worker& worker = workers[i];
    worker.server = &server;
    worker.open_connections = &open_connections;
    UniqueFd fd = std::move(listeners[i]);
    asio::error_code error;
    worker.protocol = protocol;
    worker.acceptor.assign(protocol, fd.get(), error);
    if (error) fail("assign listener: " + error.message());
    fd.release();
    asio::co_spawn(worker.context, accept_connections(worker), log_if_thrown);
  }

  asio::signal_set signals(workers[0].context, SIGINT, SIGTERM);
  signals.async_wait([&workers](const asio::error_code& error, int) {
    if (error) return;
    for (std::size_t i = 1; i < workers.size(); ++i) {
      asio::post(workers[i].context, [&w = workers[i]] { stop_worker(w); });
    }
    stop_worker(workers[0]);
  });

  std::vector<std::thread> threads_running;
  for (int i = 1; i < threads; ++i) threads_running.emplace_back([&w = workers[i]] { w.context.run(); });
  unblock_shutdown_signals();  // in this thread only: the others keep them blocked
  workers[0].context.run();
  for (auto& thread : threads_running) thread.join();
  return 0;
}
