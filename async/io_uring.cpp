// io_uring: completion-based IO through liburing. The loop describes operations (accept, receive, send) as
// submission queue entries, hands a whole round of them to the kernel in one io_uring_enter(2), and is told in the
// completion queue what each one did; it never asks whether a socket is ready, and nothing blocks but the wait.
//
// It demonstrates the model the POSIX AIO interface promised and Linux delivers here:
//   - One io_uring_submit_and_wait per round: every submission the last round's completions produced goes in with
//     the wait for the next ones, so a busy round costs one system call whatever the number of connections.
//   - Multishot accept and multishot recv: one submission keeps producing completions until it ends or is cancelled.
//     A multishot recv cannot name a buffer in advance, so the kernel takes one from a provided-buffer ring and the
//     loop hands it back once the bytes are copied into the session: one receive pool, no buffer per idle connection.
//     Backpressure: each multishot recv is limited to the bytes the session has room for, and ends by itself there;
//     where the kernel lacks the limit (or HTTP responses fill the output faster) the loop cancels the recv, and
//     keeps what arrives until the cancel lands out of the ring, so the pool bounds that overshoot.
//   - Direct descriptors: connections are accepted into the ring's fixed file table and never get a descriptor of
//     the process, so they do not count against RLIMIT_NOFILE's table and each operation skips the fd lookup.
//   - A buffer lent to the kernel must not move until its operation completes, and the session's output buffer
//     moves when more input arrives: the slice being sent is copied out of the session, one send in flight per
//     connection; a short send is followed by the rest of that slice. A zero-copy send (SEND_ZC) keeps the slice
//     until its second completion, the notification that the kernel no longer reads it.
//   - user_data names an operation: its kind, the connection's slot in the table and the slot's generation, so a
//     completion for a connection that has gone can never be taken for its successor's.
//   - Shutdown: the signalfd is polled in the same ring; then one IORING_ASYNC_CANCEL_ANY takes back every request
//     and the loop reaps completions until none is in flight.
// Every feature is a flag (--help; async/README.md has the kernel version each needs and what each one saves); a
// kernel without one gets a line on stderr and the fallback. The flags, ring setup and buffer ring live in
// io_uring_features.hpp.
// Inherent limit: none of the model's own; Linux 5.6 or later, and io_uring must be allowed (kernel.io_uring_disabled,
// seccomp profiles of container runtimes). Where it is not, the server exits 1: "io_uring unavailable: ...".
//
// Try it:  bin/io_uring --port 7000 &   nc 127.0.0.1 7000
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "async/io_uring_features.hpp"
#include "common/accept.hpp"
#include "common/errors.hpp"
#include "common/output_slice.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"

using namespace iomodels;
using namespace iomodels::uring;
using Clock = std::chrono::steady_clock;

namespace {

constexpr unsigned kRingEntries = 1024;
// The provided-buffer ring, shared by every connection of a loop (a power of two, as the kernel requires).
constexpr unsigned kBufferCount = 1024;
constexpr unsigned kBufferSize = 4 * 1024;
constexpr unsigned short kBufferGroup = 0;
// A connection's own buffer, without the buffer ring.
constexpr std::size_t kReceiveSize = 16 * 1024;
// Shutdown: how long to wait for the kernel to hand back cancelled requests.
constexpr auto kDrainDeadline = std::chrono::milliseconds(500);

// Open connections over every loop, for --max-conns.
std::atomic<std::size_t> open_connections{0};

struct Connection {
  Connection(int socket_handle, UniqueFd socket, const SessionConfig& config)
      : handle(socket_handle), fd(std::move(socket)), session(config) {}

  int handle;   // the descriptor, or the index in the fixed file table with direct descriptors
  UniqueFd fd;  // owns handle when it is an ordinary descriptor; empty with direct descriptors
  Session session;
  std::unique_ptr<char[]> input;  // without the buffer ring only
  OutputSlice output;             // the slice of session output being sent
  std::size_t unsent = 0;         // bytes of the slice not yet sent
  int zc_notifications = 0;  // SEND_ZC notifications still to come: until then the kernel may read output
  std::vector<unsigned short> withheld;  // provided buffers kept from the ring while a recv is being cancelled
  bool receiving = false;    // a recv (multishot or not) is in flight
  bool cancelling = false;   // asked to cancel the multishot recv (backpressure)
  int sends = 0;  // sends in flight: one, or with --linked-sends up to kLinkedSends in a chain
  bool closing = false;
  bool shut_down = false;
  bool aborted = false;  // closed abortively at shutdown
};

class UringLoop {
 public:
  UringLoop(const Server& server, Features wanted) : server_(server), shutdown_(open_shutdown_fd()), f_(wanted) {
    init_ring(ring_, f_, kRingEntries);
    settle_features(ring_, f_, buffers_, kBufferGroup);
  }

  ~UringLoop() { io_uring_queue_exit(&ring_); }

  std::string path() const { return describe(f_, kBufferCount, kBufferSize / 1024); }

  void run(UniqueFd listener) {
    listener_ = std::move(listener);
    // Accepted sockets inherit TCP_NODELAY from the listener: a direct descriptor has no fd to setsockopt on.
    set_nodelay(listener_.get());
    io_uring_prep_poll_add(next_sqe(Tag{Op::kShutdown}), shutdown_.get(), POLLIN);
    arm_accept();
    while (!stopping_) {
      const int rc = io_uring_submit_and_wait(&ring_, 1);
      // EAGAIN: no memory for the requests now; EBUSY: completions must be reaped first. Reaping is next anyway.
      if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) die_errno("io_uring_submit_and_wait", -rc);
      ++waits_;
      reap();
    }
    stop();
  }

 private:
  // ---- submissions ----
  io_uring_sqe* next_sqe(Tag tag) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {  // the submission queue is full: hand it to the kernel now
      make_room(1);
      sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) die_errno("io_uring_get_sqe", EBUSY);
    }
    io_uring_sqe_set_data64(sqe, encode(tag));
    if (tag.op != Op::kIgnore) ++in_flight_;
    return sqe;
  }

  // Submits what is queued until the submission queue has room for n entries.
  void make_room(unsigned n) {
    io_uring_submit(&ring_);
    // An SQPOLL thread takes entries in its own time, not during the submit: wait until it has made room.
    while (io_uring_sq_space_left(&ring_) < n && f_.sqpoll && io_uring_sqring_wait(&ring_) >= 0) {
    }
  }

  // After the prep (which clears sqe->flags): with direct descriptors a handle is an index in the fixed file table.
  void on_socket(io_uring_sqe* sqe) const {
    if (f_.direct) sqe->flags |= IOSQE_FIXED_FILE;
  }

  void arm_accept() {
    accept_armed_ = true;
    prep_accept(next_sqe(Tag{Op::kAccept}), listener_.get(), f_);
  }

  void cancel(Tag tag) { io_uring_prep_cancel64(next_sqe(Tag{Op::kIgnore}), encode(tag), 0); }

  void receive_next(std::uint32_t slot, Connection& connection) {
    io_uring_sqe* sqe = next_sqe(tag(Op::kRecv, slot));
    prep_recv(sqe, connection.handle, f_, kBufferGroup, connection.input.get(), kReceiveSize,
              connection.session.input_room());
    on_socket(sqe);
    connection.receiving = true;
  }

  // One send of the slice, or with --linked-sends a slice of up to kLinkedSends pieces sent as a chain: each piece
  // starts when the one before has gone whole (MSG_WAITALL); a piece that fails cancels the rest (-ECANCELED).
  void send_next(std::uint32_t slot, Connection& connection) {
    // The slice may be refilled only when the kernel reads it no more: after every zero-copy notification.
    if (connection.unsent == 0 && connection.zc_notifications > 0) return;
    const std::size_t piece = OutputSlice::kMaxSize;
    std::span<char> rest =
        connection.output.next(connection.session, f_.linked_sends ? kLinkedSends * piece : piece);
    if (rest.empty()) return;
    connection.unsent = rest.size();
    const int flags = MSG_NOSIGNAL | (f_.linked_sends ? MSG_WAITALL : 0);
    // A chain must go in one submission: one cut in two would be two chains, racing each other.
    const auto pieces = static_cast<unsigned>((rest.size() + piece - 1) / piece);
    if (io_uring_sq_space_left(&ring_) < pieces) make_room(pieces);
    while (!rest.empty()) {
      const std::span<char> part = rest.first(std::min(piece, rest.size()));
      rest = rest.subspan(part.size());
      io_uring_sqe* sqe = next_sqe(tag(Op::kSend, slot));
      if (f_.send_zc && part.size() >= kZeroCopyMin) {
        io_uring_prep_send_zc(sqe, connection.handle, part.data(), part.size(), flags, 0);
      } else {
        io_uring_prep_send(sqe, connection.handle, part.data(), part.size(), flags);
      }
      on_socket(sqe);
      if (!rest.empty()) sqe->flags |= IOSQE_IO_LINK;
      ++connection.sends;
    }
  }

  // ---- completions ----
  void reap() {
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      on_completion(*cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    completions_ += seen;
    if (f_.buffer_ring) buffers_.publish();
  }

  void on_completion(const io_uring_cqe& cqe) {
    const Tag done = decode(cqe.user_data);
    const bool last = (cqe.flags & IORING_CQE_F_MORE) == 0;  // the request is over; it produces nothing more
    if (done.op != Op::kIgnore && last) --in_flight_;
    switch (done.op) {
      case Op::kIgnore:  // the result of a cancel, a shutdown or a close of a direct descriptor
        return;
      case Op::kShutdown:
        stopping_ = true;
        return;
      case Op::kAccept:
        on_accept(cqe.res, last);
        return;
      case Op::kAcceptResume:
        resume_accepting();
        return;
      case Op::kRecv:
      case Op::kSend:
        break;
    }
    Connection* connection = lookup(done);
    if (connection == nullptr) {  // cannot happen: a slot is freed only once nothing of it is in flight
      if (cqe.flags & IORING_CQE_F_BUFFER) buffers_.give_back(buffer_id(cqe));
      return;
    }
    if (done.op == Op::kRecv) {
      on_receive(*connection, cqe, last);
    } else if (cqe.flags & IORING_CQE_F_NOTIF) {
      --connection->zc_notifications;  // the kernel has let go of the slice
    } else {
      if (!last) ++connection->zc_notifications;  // SEND_ZC: a notification follows
      on_send(*connection, cqe.res);
    }
    if (!stopping_) pump(done.slot);
  }

  void on_accept(int res, bool last) {
    if (last) accept_armed_ = false;
    if (res >= 0) {
      // Over --max-conns (or stopping) the connection is closed at once.
      if (!stopping_ && !over_connection_limit(server_.options, open_connections.load())) {
        add_connection(res);
      } else if (f_.direct) {
        io_uring_prep_close_direct(next_sqe(Tag{Op::kIgnore}), static_cast<unsigned>(res));
      } else {
        UniqueFd refused(res);
      }
    } else if (res != -ECANCELED) {
      // EMFILE, or ENFILE when the fixed file table is full: pause.
      if (accept_failed(-res) == AcceptResult::kShed) pause_accepting();
    }
    if (!accept_armed_ && !accept_paused_ && !stopping_) arm_accept();
  }

  // A listener out of descriptors would fail every accept at once, round after round: stop accepting until a
  // connection closes or the pause ends.
  void pause_accepting() {
    accept_paused_ = true;
    if (accept_armed_) cancel(Tag{Op::kAccept});
    pause_ = {.tv_sec = 0, .tv_nsec = std::chrono::nanoseconds(kShedLoadPause).count()};
    io_uring_prep_timeout(next_sqe(Tag{Op::kAcceptResume}), &pause_, 0, 0);
  }

  void resume_accepting() {
    if (!accept_paused_ || stopping_) return;
    accept_paused_ = false;
    if (!accept_armed_) arm_accept();
  }

  void on_receive(Connection& connection, const io_uring_cqe& cqe, bool last) {
    const int res = cqe.res;
    if (res > 0) {
      auto take = [&connection](std::span<const char> bytes) {
        if (!connection.closing) connection.session.receive(bytes);
      };
      // A multishot recv being cancelled (backpressure) goes on receiving until the cancel lands; the buffers it
      // fills are kept from the ring meanwhile, so that what it adds to the session is bounded by the pool.
      if (cqe.flags & IORING_CQE_F_BUFFER) {  // one provided buffer, or several with a bundle
        buffers_.consume(buffer_id(cqe), static_cast<std::size_t>(res), take,
                         connection.cancelling && !last ? &connection.withheld : nullptr);
      } else {
        take({connection.input.get(), static_cast<std::size_t>(res)});
      }
    } else if (res == 0) {
      connection.session.receive_eof();
    } else if (res == -ENOBUFS) {
      ++ran_dry_;  // the buffer ring ran dry and the recv ended: pump() re-arms it
    } else if (res == -EINVAL && f_.recv_limit) {
      fall_back(f_.recv_limit, true, "a limited multishot recv needs Linux 6.17; backpressure cancels the recv");
    } else if (res != -ECANCELED) {
      if (connection_error_is_fatal("recv", -res)) connection.closing = true;
    }
    if (last) {
      connection.receiving = false;
      connection.cancelling = false;
      for (unsigned short id : connection.withheld) buffers_.give_back(id);
      connection.withheld.clear();
    }
  }

  static void on_send(Connection& connection, int res) {
    --connection.sends;
    if (res < 0) {
      if (res == -ECANCELED || connection_error_is_fatal("send", -res)) connection.closing = true;
      return;
    }
    // A short send leaves the rest of the slice, which pump() sends next: bytes leave in order.
    connection.unsent -= static_cast<std::size_t>(res);
    connection.output.sent(connection.session, static_cast<std::size_t>(res));
  }

  // Submits what the connection needs next, or closes it.
  void pump(std::uint32_t slot) {
    Connection& connection = slots_.at(slot);
    if (!connection.closing && connection.session.done()) connection.closing = true;
    if (connection.closing) {
      close(slot);
      return;
    }
    if (connection.sends == 0) send_next(slot, connection);
    if (connection.session.wants_input()) {
      if (!connection.receiving && worth_arming(connection)) receive_next(slot, connection);
    } else if (connection.receiving && f_.multishot && f_.buffer_ring && !connection.cancelling) {
      // Backpressure: a multishot recv would go on filling the session; cancel it, re-arm when output drains.
      cancel(tag(Op::kRecv, slot));
      connection.cancelling = true;
    }
  }

  // A limited recv re-armed as soon as the peer has read a little would end again after that little: under
  // backpressure it waits until half the room is free, so that each arming carries at least half a bound.
  bool worth_arming(const Connection& connection) const {
    return !f_.recv_limit || connection.session.input_room() >= kMaxPendingOutput / 2;
  }

  // ---- the connection table ----
  Tag tag(Op op, std::uint32_t slot) const { return Tag{op, slot, slots_.generation(slot)}; }
  Connection* lookup(Tag done) { return slots_.find(done.slot, done.generation); }

  void add_connection(int handle) {
    auto connection = std::make_unique<Connection>(handle, f_.direct ? UniqueFd() : UniqueFd(handle), server_.session);
    if (!f_.buffer_ring) connection->input = std::make_unique_for_overwrite<char[]>(kReceiveSize);
    const std::uint32_t slot = slots_.add(std::move(connection));
    ++open_connections;
    pump(slot);
  }

  // A connection is freed only once the kernel has handed back everything it lent it. shutdown(2) ends a recv
  // waiting for data (it completes with 0) and a send waiting for room (it fails), so their completions come soon;
  // a cancel does the same for a direct descriptor.
  void close(std::uint32_t slot) {
    Connection& connection = slots_.at(slot);
    if (connection.receiving || connection.sends > 0 || connection.zc_notifications > 0) {
      // Not IORING_OP_SHUTDOWN for a direct descriptor: it runs later on an io-wq worker and looks the slot up only
      // then, when it may already hold the next connection. Cancelling the socket's requests (6.0) runs at once.
      if (!connection.shut_down && f_.direct) {
        io_uring_prep_cancel_fd(next_sqe(Tag{Op::kIgnore}), connection.handle,
                                IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD_FIXED);
      } else if (!connection.shut_down) {
        ::shutdown(connection.fd.get(), SHUT_RDWR);
      }
      connection.shut_down = true;
      return;
    }
    if (f_.direct) io_uring_prep_close_direct(next_sqe(Tag{Op::kIgnore}), static_cast<unsigned>(connection.handle));
    slots_.free(slot);
    --open_connections;
    resume_accepting();
  }

  // Cancel every request in the ring, reap until none is in flight (or the deadline passes), then close every
  // connection, output still pending or not. Direct descriptors close with the ring.
  void stop() {
    io_uring_prep_cancel64(next_sqe(Tag{Op::kIgnore}), 0, IORING_ASYNC_CANCEL_ANY);
    const auto deadline = Clock::now() + kDrainDeadline;
    while (in_flight_ > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      __kernel_timespec timeout{.tv_sec = left / 1'000'000'000, .tv_nsec = left % 1'000'000'000};
      io_uring_cqe* cqe = nullptr;
      const int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
      if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
        die_errno("io_uring_submit_and_wait_timeout", -rc);
      }
      reap();
      abort_zero_copy_sends();
    }
    if (in_flight_ > 0) {
      log_message(std::to_string(in_flight_) + " io_uring request(s) still in flight at exit");
      // Their buffers stay lent to the kernel: leave them to the process exit rather than free them now.
      slots_.leak_all();
    }
    open_connections -= slots_.size();
    slots_.clear();
    if (ran_dry_ > 0) {
      log_message("the provided-buffer ring ran dry " + std::to_string(ran_dry_) +
                  " time(s); each time the recv was re-armed");
    }
    log_message(std::to_string(completions_) + " completions in " + std::to_string(waits_) +
                " waits (io_uring_submit_and_wait)");
  }

  // A zero-copy send's notification comes only when the socket frees the pages, and a peer that does not read keeps
  // them queued: at shutdown such a connection is closed abortively (SO_LINGER 0 sends RST and drops the queue).
  void abort_zero_copy_sends() {
    slots_.for_each([this](Connection& connection) {
      if (connection.zc_notifications == 0 || connection.aborted) return;
      connection.aborted = true;
      if (!f_.direct) {
        setsockopt(connection.fd.get(), SOL_SOCKET, SO_LINGER, &kAbortiveClose, sizeof kAbortiveClose);
        connection.fd.reset();
      } else {  // setsockopt as an SQE: Linux 6.7; on older kernels the notification waits for the peer
        prep_abortive_close_direct(next_sqe(Tag{Op::kIgnore}), next_sqe(Tag{Op::kIgnore}), connection.handle);
      }
    });
  }

  const Server& server_;
  UniqueFd shutdown_;
  UniqueFd listener_;
  io_uring ring_{};
  Features f_;
  BufferRing buffers_{kBufferCount, kBufferSize};
  SlotTable<Connection> slots_;
  long in_flight_ = 0;  // requests that will still produce a completion
  unsigned long ran_dry_ = 0;
  unsigned long waits_ = 0;
  unsigned long completions_ = 0;
  bool stopping_ = false;
  bool accept_armed_ = false;
  bool accept_paused_ = false;
  __kernel_timespec pause_{};  // read by the kernel when the timeout is submitted
};

}  // namespace

int main(int argc, char** argv) {
  const ModelInfo model{
      .name = "io_uring",
      .summary = "completion-based IO: submissions and completions through io_uring rings (liburing)",
      .limit = "",  // none of the model's own: memory and descriptors; io_uring must be allowed
      .default_threads = 1,
      .threads_help = "event loops, each with its own thread, ring and SO_REUSEPORT listener",
      .flags = feature_flags(),
  };
  // The rings are made before the banner: where io_uring is unavailable the server exits 1 without ever claiming
  // to listen (and a busy port is still reported as such). The loops keep a reference to their settings: a copy
  // that stays put (start_server's result may move).
  Server settings;
  std::vector<UniqueFd> listeners;
  std::unique_ptr<UringLoop> first;
  std::vector<std::jthread> loops;  // joined when it goes out of scope, after loop 0 has returned
  start_server(argc, argv, model, {.listener_per_thread = true}, [&](Server& started) {
    settings.options = started.options;
    settings.session = started.session;
    listeners = open_listeners(started, started.options.threads);
    first = start_loops<UringLoop>(settings, features_from(settings.options), listeners, loops);
  });
  first->run(std::move(listeners.front()));
  return 0;
}
