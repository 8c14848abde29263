// libuv: one uv_loop_t (epoll underneath) drives a uv_tcp_t stream per connection.
//
// libuv owns the waiting and the system calls; the server lends it memory. uv_read_start calls on_alloc for a
// buffer (here the session's own read buffer, so input lands where the session wants it) and then on_read with
// what arrived. Output goes out with uv_try_write straight from the session while nothing is queued, and
// the rest is copied into a uv_write request that libuv sends when the socket is writable. Backpressure is the
// write queue: past 1 MiB queued the stream stops reading, and reads again once the queue has drained.
// After a half-close the stream closes as soon as nothing is queued (uv_shutdown waits for the queue if need be).
// Signals are uv_signal_t handles.
// libuv accepts until EAGAIN and, on EMFILE, closes a reserved descriptor, accepts and closes everything
// pending and reopens the reserve (uv__emfile_trick): over the descriptor limit, clients are refused, not queued.
//
// Inherent limit: one loop is one core (no --threads here); one copy of whatever the socket would not take
// at once.
//
// Try it:  bin/libuv --port 7000 &  printf 'hello\n' | nc -N 127.0.0.1 7000
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <uv.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/accept.hpp"
#include "common/errors.hpp"
#include "common/limits.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"

namespace {
using namespace iomodels;

// After an accept error libuv cannot absorb, the listener sleeps this long unless a connection closes first.
constexpr uint64_t kAcceptRetryMs = kShedLoadPause.count();

struct Connection {
  explicit Connection(const SessionConfig& config) : session(config) {}
  uv_tcp_t tcp{};
  uv_shutdown_t shutdown{};
  Session session;
  bool reading = false;
  bool shutting_down = false;
};

// Bytes libuv could not send at once, kept until on_write.
struct WriteRequest {
  uv_write_t req{};
  std::unique_ptr<char[]> bytes;
};

struct App {
  const Server* server = nullptr;
  uv_loop_t loop{};
  UniqueFd listen_fd;  // the listening socket; libuv's handle holds a duplicate it may close
  uv_tcp_t listener{};
  enum class Accepting { kListening, kClosing, kPaused } accepting = Accepting::kListening;
  uv_timer_t accept_retry{};
  std::array<uv_signal_t, 2> signals{};
  std::size_t open_connections = 0;
  bool stopping = false;
};

App& app_of(const void* handle) {
  return *static_cast<App*>(uv_loop_get_data(uv_handle_get_loop(static_cast<const uv_handle_t*>(handle))));
}
Connection& connection_of(const void* handle) {
  return *static_cast<Connection*>(uv_handle_get_data(static_cast<const uv_handle_t*>(handle)));
}
uv_stream_t* stream(Connection& c) { return reinterpret_cast<uv_stream_t*>(&c.tcp); }
uv_handle_t* handle(Connection& c) { return reinterpret_cast<uv_handle_t*>(&c.tcp); }

void start_listening(App& app);

void on_connection_closed(uv_handle_t* h) {
  App& app = app_of(h);
  delete &connection_of(h);
  --app.open_connections;
  if (app.accepting == App::Accepting::kPaused && !app.stopping) start_listening(app);
}

void close_connection(Connection& c) {
  if (!uv_is_closing(handle(c))) uv_close(handle(c), on_connection_closed);
}

// Logs what deserves it and closes the connection; dies on a bug.
void fail_connection(Connection& c, const char* call, int uv_error) {
  const int err = -uv_error;
  if (classify_errno(err) == ErrnoClass::kBug) die_errno(call, err);
  if (classify_errno(err) != ErrnoClass::kPeerGone) log_errno(call, err);
  close_connection(c);
}

void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  const auto space = connection_of(h).session.read_buffer();
  *buf = uv_buf_init(space.data(), static_cast<unsigned>(space.size()));
}

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*);
void on_write(uv_write_t* req, int status);

void on_shutdown(uv_shutdown_t* req, int) {
  Connection& c = connection_of(req->handle);
  close_connection(c);
}

// Reads while the session wants input and less than the bound is queued; once paused, reads again only when
// the queue is empty. Once the session is done: with nothing queued the stream closes at once (close(2) sends
// the FIN, and the descriptor is free before the loop accepts again); otherwise uv_shutdown sends the FIN
// after the queue, and the stream closes then.
void update_reading(Connection& c) {
  const std::size_t queued = uv_stream_get_write_queue_size(stream(c));
  if (c.session.done()) {
    if (queued == 0) return close_connection(c);
    if (c.reading) uv_read_stop(stream(c));
    c.reading = false;
    if (c.shutting_down) return;
    c.shutting_down = true;
    if (int rc = uv_shutdown(&c.shutdown, stream(c), on_shutdown); rc != 0) close_connection(c);
    return;
  }
  if (c.reading && (queued >= kMaxPendingOutput || !c.session.wants_input())) {
    uv_read_stop(stream(c));
    c.reading = false;
  } else if (!c.reading && queued == 0 && c.session.wants_input()) {
    if (int rc = uv_read_start(stream(c), on_alloc, on_read); rc != 0) return fail_connection(c, "uv_read_start", rc);
    c.reading = true;
  }
}

// Sends the session's output: straight from its buffer while nothing is queued, the rest copied into a
// request that libuv keeps until it has been written.
void flush(Connection& c) {
  const auto out = c.session.pending_output();
  if (out.empty()) return update_reading(c);
  std::size_t sent = 0;
  if (uv_stream_get_write_queue_size(stream(c)) == 0) {
    uv_buf_t buf = uv_buf_init(const_cast<char*>(out.data()), static_cast<unsigned>(out.size()));
    const int n = uv_try_write(stream(c), &buf, 1);
    if (n >= 0) {
      sent = static_cast<std::size_t>(n);
    } else if (n != UV_EAGAIN) {
      return fail_connection(c, "uv_try_write", n);
    }
  }
  if (sent < out.size()) {
    auto* w = new WriteRequest{.req = {}, .bytes = std::make_unique_for_overwrite<char[]>(out.size() - sent)};
    std::memcpy(w->bytes.get(), out.data() + sent, out.size() - sent);
    uv_buf_t buf = uv_buf_init(w->bytes.get(), static_cast<unsigned>(out.size() - sent));
    if (int rc = uv_write(&w->req, stream(c), &buf, 1, on_write); rc != 0) {
      delete w;
      return fail_connection(c, "uv_write", rc);
    }
  }
  c.session.consume_output(out.size());
  update_reading(c);
}

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  Connection& c = connection_of(s);
  if (nread > 0) {
    c.session.commit_read(static_cast<std::size_t>(nread));
  } else if (nread == UV_EOF) {
    c.session.receive_eof();  // libuv has stopped reading by itself
    c.reading = false;
  } else if (nread < 0 && nread != UV_ENOBUFS) {  // ENOBUFS: on_alloc had no room; update_reading pauses
    return fail_connection(c, "read", static_cast<int>(nread));
  }
  flush(c);
}

void on_write(uv_write_t* req, int status) {
  Connection& c = connection_of(req->handle);
  delete reinterpret_cast<WriteRequest*>(req);
  if (uv_is_closing(handle(c))) return;  // a stream being closed completes its queue with UV_ECANCELED
  if (status < 0) return fail_connection(c, "write", status);
  update_reading(c);
}

void pause_accepting(App& app);

void on_connection(uv_stream_t* listener, int status) {
  App& app = app_of(listener);
  if (status < 0) {
    if (accept_failed(-status) == AcceptResult::kShed) pause_accepting(app);
    return;
  }
  auto* c = new Connection(app.server->session);
  uv_tcp_init(&app.loop, &c->tcp);
  uv_handle_set_data(handle(*c), c);
  ++app.open_connections;
  if (uv_accept(listener, stream(*c)) != 0 || over_connection_limit(app.server->options, app.open_connections - 1)) {
    return close_connection(*c);
  }
  uv_tcp_nodelay(&c->tcp, 1);
  update_reading(*c);
}

// libuv retries accept at once after calling on_connection with an error, and a listening stream cannot
// stop reading: the only way to stop it spinning on an error it cannot absorb is to close the handle.
// Its descriptor is a duplicate, so the socket (and its backlog) stays open for start_listening.
void pause_accepting(App& app) {
  if (app.accepting != App::Accepting::kListening) return;
  app.accepting = App::Accepting::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&app.listener), [](uv_handle_t* h) {
    App& a = app_of(h);
    a.accepting = App::Accepting::kPaused;
    if (!a.stopping) {
      uv_timer_start(&a.accept_retry, [](uv_timer_t* t) { start_listening(app_of(t)); }, kAcceptRetryMs, 0);
    }
  });
}

void start_listening(App& app) {
  uv_timer_stop(&app.accept_retry);
  const int fd = fcntl(app.listen_fd.get(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    if (classify_errno(errno) != ErrnoClass::kShedLoad) die_errno("fcntl F_DUPFD_CLOEXEC", errno);
    uv_timer_start(&app.accept_retry, [](uv_timer_t* t) { start_listening(app_of(t)); }, kAcceptRetryMs, 0);
    return;
  }
  uv_tcp_init(&app.loop, &app.listener);
  if (int rc = uv_tcp_open(&app.listener, fd); rc != 0) die_errno("uv_tcp_open", -rc);
  // listen(2) again on a listening socket only sets the backlog, which is the one it has.
  if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&app.listener), kListenBacklog, on_connection); rc != 0) {
    die_errno("uv_listen", -rc);
  }
  app.accepting = App::Accepting::kListening;
}

// Closes every handle (listener, connections even with output queued, timer, signals); uv_run then returns.
void on_signal(uv_signal_t* watcher, int) {
  App& app = app_of(watcher);
  app.stopping = true;
  uv_walk(
      &app.loop,
      [](uv_handle_t* h, void* arg) {
        if (uv_is_closing(h)) return;
        const bool is_connection = h->type == UV_TCP && h != reinterpret_cast<uv_handle_t*>(arg);
        uv_close(h, is_connection ? on_connection_closed : nullptr);
      },
      &app.listener);
}

const ModelInfo kModel{
    .name = "libuv",
    .summary = "libuv streams: one uv_loop_t (epoll), reads into lent buffers, queued writes",
};

}  // namespace

int main(int argc, char** argv) {
  Server server = start_server(argc, argv, kModel, {.nonblocking = true});
  App app;
  app.server = &server;
  app.listen_fd = std::move(server.listener);
  if (int rc = uv_loop_init(&app.loop); rc != 0) die_errno("uv_loop_init", -rc);
  uv_loop_set_data(&app.loop, &app);
  uv_timer_init(&app.loop, &app.accept_retry);
  start_listening(app);
  const int signals[] = {SIGINT, SIGTERM};
  for (std::size_t i = 0; i < app.signals.size(); ++i) {
    uv_signal_init(&app.loop, &app.signals[i]);
    if (int rc = uv_signal_start(&app.signals[i], on_signal, signals[i]); rc != 0) die_errno("uv_signal_start", -rc);
  }
  unblock_shutdown_signals();

  uv_run(&app.loop, UV_RUN_DEFAULT);
  if (int rc = uv_loop_close(&app.loop); rc != 0) die_errno("uv_loop_close", -rc);
  return 0;
}
