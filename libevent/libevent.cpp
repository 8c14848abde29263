// libevent: an event_base (epoll underneath) drives one bufferevent per connection.
//
// A bufferevent is a socket plus two evbuffers that libevent fills and drains by itself: the server never
// calls recv or send, it is called back when bytes have arrived (on_read), when the output has drained to a
// watermark (on_write), and on EOF or an error (on_event). Backpressure is a watermark: past 1 MiB of unsent
// output the connection stops reading, and the write low watermark calls back once half of it has gone.
// evconnlistener accepts until EAGAIN on every wakeup; signal events turn SIGINT/SIGTERM into a callback.
// --threads N runs N event_bases, each with its own SO_REUSEPORT listener.
//
// Inherent limit: none beyond epoll's; but every byte is copied through the library's evbuffers on its way in
// and out of the Session, and a write always waits for the next loop turn.
//
// Try it:  bin/libevent --port 7000 &  printf 'hello\n' | nc -N 127.0.0.1 7000
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>

#include <atomic>
#include <cerrno>
#include <list>
#include <thread>
#include <vector>

#include "common/accept.hpp"
#include "common/errors.hpp"
#include "common/limits.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"

namespace {
using namespace iomodels;

// Reading resumes once the output evbuffer has drained to half the backpressure bound.
constexpr std::size_t kResumeBelow = kMaxPendingOutput / 2;
// kShedLoadPause as libevent's timer wants it.
constexpr timeval kAcceptRetry = {0, std::chrono::microseconds(kShedLoadPause).count()};

struct Reactor;

struct Connection {
  enum class State { kReading, kPaused, kClosing };
  Reactor* reactor;
  bufferevent* bev;
  Session session;
  bool peer_eof = false;  // libevent saw EOF; the session hears of it once the input evbuffer is empty
  State state = State::kReading;
  std::list<Connection>::iterator self;
};

// One event_base with its listener and connections; each runs on one thread and touches nothing of the others.
struct Reactor {
  const Server* server = nullptr;
  std::atomic<std::size_t>* open_connections = nullptr;  // all reactors: --max-conns
  int stop_fd = -1;  // an eventfd the main reactor writes at shutdown; the others watch it
  event_base* base = nullptr;
  evconnlistener* listener = nullptr;
  event* accept_retry = nullptr;
  std::vector<event*> stop_events;  // signal events (main reactor) or the stop_fd event (the others)
  bool accept_paused = false;
  std::list<Connection> connections;
};

void pump(Connection& c);

void close_connection(Connection& c) {
  Reactor& r = *c.reactor;
  bufferevent_free(c.bev);  // BEV_OPT_CLOSE_ON_FREE: closes the socket, drops unsent output
  r.connections.erase(c.self);
  r.open_connections->fetch_sub(1, std::memory_order_relaxed);
  if (r.accept_paused) {
    r.accept_paused = false;
    evtimer_del(r.accept_retry);
    evconnlistener_enable(r.listener);
  }
}

// Hands the session's output to the bufferevent (a copy: the evbuffer owns its bytes).
bool write_output(Connection& c) {
  const auto out = c.session.pending_output();
  if (out.empty()) return true;
  if (bufferevent_write(c.bev, out.data(), out.size()) != 0) {
    log_message("bufferevent_write: out of memory");
    return false;
  }
  c.session.consume_output(out.size());
  return true;
}

// Moves input from the bufferevent into the session and its output back, then decides whether the connection
// reads on, pauses for backpressure or is closing.
void pump(Connection& c) {
  evbuffer* input = bufferevent_get_input(c.bev);
  evbuffer* output = bufferevent_get_output(c.bev);
  while (c.session.wants_input() && evbuffer_get_length(output) < kMaxPendingOutput &&
         evbuffer_get_length(input) > 0) {
    const auto space = c.session.read_buffer();
    const int n = evbuffer_remove(input, space.data(), space.size());
    if (n <= 0) break;
    c.session.commit_read(static_cast<std::size_t>(n));
    if (!write_output(c)) return close_connection(c);
  }
  if (c.peer_eof && evbuffer_get_length(input) == 0) {
    c.session.receive_eof();
    if (!write_output(c)) return close_connection(c);
  }

  // The session's own output is empty now, so done() means only that nothing more will come.
  if (c.session.done()) {
    if (evbuffer_get_length(output) == 0) return close_connection(c);
    // Half-close: send what is owed, then close. A low watermark of 0 calls on_write once all is sent.
    c.state = Connection::State::kClosing;
    bufferevent_disable(c.bev, EV_READ);
    bufferevent_setwatermark(c.bev, EV_WRITE, 0, 0);
    return;
  }
  if (evbuffer_get_length(output) >= kMaxPendingOutput) {
    if (c.state != Connection::State::kPaused) {
      c.state = Connection::State::kPaused;
      bufferevent_disable(c.bev, EV_READ);
      bufferevent_setwatermark(c.bev, EV_WRITE, kResumeBelow, 0);
    }
    return;
  }
  if (c.state == Connection::State::kPaused) {
    c.state = Connection::State::kReading;
    bufferevent_setwatermark(c.bev, EV_WRITE, 0, 0);
  }
  // After EOF libevent has stopped reading by itself; reading again would only find EOF again.
  if (!c.peer_eof) bufferevent_enable(c.bev, EV_READ);
}

void on_read(bufferevent*, void* arg) { pump(*static_cast<Connection*>(arg)); }

// Called when the output evbuffer has drained to the low watermark: half the bound while paused, empty while
// closing (and empty, harmlessly, while reading).
void on_write(bufferevent*, void* arg) {
  auto& c = *static_cast<Connection*>(arg);
  if (c.state == Connection::State::kClosing) return close_connection(c);
  if (c.state == Connection::State::kPaused) pump(c);
}

void on_event(bufferevent*, short what, void* arg) {
  auto& c = *static_cast<Connection*>(arg);
  if (what & BEV_EVENT_EOF) {
    c.peer_eof = true;
    return pump(c);
  }
  if (what & BEV_EVENT_ERROR) {
    const int err = EVUTIL_SOCKET_ERROR();
    const char* call = (what & BEV_EVENT_READING) ? "recv" : "send";
    if (classify_errno(err) == ErrnoClass::kBug) die_errno(call, err);
    if (classify_errno(err) != ErrnoClass::kPeerGone) log_errno(call, err);
    close_connection(c);
  }
}

void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  Reactor& r = *static_cast<Reactor*>(arg);
  if (over_connection_limit(r.server->options, r.open_connections->load(std::memory_order_relaxed))) {
    ::close(fd);
    return;
  }
  set_nodelay(fd);
  bufferevent* bev = bufferevent_socket_new(r.base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) {
    log_message("bufferevent_socket_new failed");
    ::close(fd);
    return;
  }
  r.open_connections->fetch_add(1, std::memory_order_relaxed);
  Connection& c = r.connections.emplace_back(&r, bev, Session(r.server->session));
  c.self = std::prev(r.connections.end());
  bufferevent_setcb(bev, on_read, on_write, on_event, &c);
  // libevent reads 16 KiB per wakeup by default; a session takes up to kReadChunk at once.
  bufferevent_set_max_single_read(bev, kReadChunk);
  bufferevent_enable(bev, EV_READ);
}

// evconnlistener has already retried EINTR, EAGAIN and ECONNABORTED; what reaches here is anything else.
void on_accept_error(evconnlistener* listener, void* arg) {
  Reactor& r = *static_cast<Reactor*>(arg);
  if (accept_failed(EVUTIL_SOCKET_ERROR()) != AcceptResult::kShed) return;
  // The pending connection stays in the backlog, so the listener would be readable again at once: stop watching it
  // until a connection closes or the timer fires.
  evconnlistener_disable(listener);
  evtimer_add(r.accept_retry, &kAcceptRetry);
  r.accept_paused = true;
}

void on_accept_retry(evutil_socket_t, short, void* arg) {
  Reactor& r = *static_cast<Reactor*>(arg);
  r.accept_paused = false;
  evconnlistener_enable(r.listener);
}

// Stop accepting, close every connection even with output pending, and let the loop return.
void stop_reactor(Reactor& r) {
  evconnlistener_free(r.listener);
  r.listener = nullptr;
  evtimer_del(r.accept_retry);
  for (Connection& c : r.connections) bufferevent_free(c.bev);
  r.connections.clear();
  event_base_loopexit(r.base, nullptr);
}

void on_stop(evutil_socket_t, short, void* arg) { stop_reactor(*static_cast<Reactor*>(arg)); }

void on_signal(evutil_socket_t, short, void* arg) {
  Reactor& main_reactor = *static_cast<Reactor*>(arg);
  if (main_reactor.listener == nullptr) return;  // the second signal of a pair
  if (eventfd_write(main_reactor.stop_fd, 1) != 0) die_errno("eventfd_write", errno);
  stop_reactor(main_reactor);
}

void open_reactor(Reactor& r, UniqueFd listen_fd) {
  r.base = event_base_new();
  if (r.base == nullptr) fail("event_base_new failed");
  // Backlog 0: the socket is listening already (start_server); a negative value would listen(2) again with 128.
  r.listener = evconnlistener_new(r.base, on_accept, &r, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
                                  listen_fd.get());
  if (r.listener == nullptr) die_errno("evconnlistener_new", errno);
  listen_fd.release();
  evconnlistener_set_error_cb(r.listener, on_accept_error);
  r.accept_retry = evtimer_new(r.base, on_accept_retry, &r);
}

void add_event(Reactor& r, event* ev) {
  if (ev == nullptr || event_add(ev, nullptr) != 0) fail("event_add failed");
  r.stop_events.push_back(ev);
}

const ModelInfo kModel{
    .name = "libevent",
    .summary = "libevent 2.1: an event_base (epoll) with a bufferevent per connection",
    .default_threads = 1,
    .threads_help = "event loops, each with its own SO_REUSEPORT listener",
};

}  // namespace

int main(int argc, char** argv) {
  Server server = start_server(argc, argv, kModel, {.nonblocking = true, .listener_per_thread = true});
  const int threads = server.options.threads;
  std::vector<UniqueFd> listeners = open_listeners(server, threads);

  UniqueFd stop_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd) die_errno("eventfd", errno);
  std::atomic<std::size_t> open_connections{0};
  std::vector<Reactor> reactors(threads);
  for (int i = 0; i < threads; ++i) {
    Reactor& r = reactors[i];
    r.server = &server;
    r.open_connections = &open_connections;
    r.stop_fd = stop_fd.get();
    open_reactor(r, std::move(listeners[i]));
    if (i > 0) add_event(r, event_new(r.base, stop_fd.get(), EV_READ, on_stop, &r));
  }
  // Libevent handles a signal in one event_base only: the main one, which then stops the others.
  for (int signo : {SIGINT, SIGTERM}) {
    add_event(reactors[0], evsignal_new(reactors[0].base, signo, on_signal, &reactors[0]));
  }

  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back([&r = reactors[i]] { event_base_dispatch(r.base); });
  unblock_shutdown_signals();  // in this thread only: the workers keep them blocked
  event_base_dispatch(reactors[0].base);
  for (auto& worker : workers) worker.join();

  for (Reactor& r : reactors) {
    for (event* ev : r.stop_events) event_free(ev);
    event_free(r.accept_retry);
    event_base_free(r.base);  // runs the finalizers of the freed bufferevents, closing their sockets
  }
  return 0;
}
