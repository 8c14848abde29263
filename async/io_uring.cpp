// io_uring: completion-based IO through liburing. The loop describes operations (accept, receive, send) as
// submission queue entries, hands a whole round of them to the kernel in one io_uring_enter(2), and is told in the
// completion queue what each one did; it never asks whether a socket is ready, and nothing blocks but the wait.
//
// It demonstrates the model the POSIX AIO interface promised and Linux delivers here:
//   - One io_uring_submit_and_wait per round: every submission the last round's completions produced goes in with
//     the wait for the next ones, so a busy round costs one system call whatever the number of connections.
//   - Multishot accept and multishot recv (Linux 5.19 / 6.0): one submission keeps producing completions, a
//     connection per accept completion, a received chunk per recv completion, until it ends or is cancelled.
//   - A provided-buffer ring: multishot recv cannot name a buffer in advance, so the kernel takes one from a ring
//     of buffers registered at start, says which in the completion, and the loop hands it back once the bytes are
//     copied into the session. Memory for receiving is one shared pool, not a buffer per idle connection.
//   - A buffer lent to the kernel must not move until its operation completes, and the session's output buffer
//     moves when more input arrives: the slice being sent is copied out of the session, one send in flight per
//     connection; a short send is followed by a send of the rest of that slice, so bytes leave in order.
//   - IORING_OP_SEND with MSG_NOSIGNAL, never write: a peer that has gone fails the send (EPIPE), raises no SIGPIPE.
//   - user_data names an operation: its kind, the connection's slot in the table, and the generation of that slot,
//     so a completion for a connection that has gone can never be taken for its successor's.
//   - Shutdown: the signalfd is polled by an IORING_OP_POLL_ADD in the same ring. Then one cancel with
//     IORING_ASYNC_CANCEL_ANY takes back every request, and the loop reaps completions until none is in flight.
// Where the kernel lacks multishot or buffer rings (or with --single-shot), it falls back to single-shot accept and
// a single-shot recv into a buffer of each connection's own; stderr says which path is taken.
// Inherent limit: none of the model's own; Linux 5.6 or later, and io_uring must be allowed (kernel.io_uring_disabled,
// seccomp profiles of container runtimes). Where it is not, the server exits 1: "io_uring unavailable: ...".
//
// Try it:  bin/io_uring --port 7000 &   nc 127.0.0.1 7000
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <latch>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/accept.hpp"
#include "common/errors.hpp"
#include "common/output_slice.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"

using namespace iomodels;
using Clock = std::chrono::steady_clock;

namespace {

constexpr unsigned kRingEntries = 1024;
// The provided-buffer ring, shared by every connection of a loop (a power of two, as the kernel requires).
constexpr unsigned kBufferCount = 256;
constexpr unsigned kBufferSize = 16 * 1024;
constexpr unsigned short kBufferGroup = 0;
// Single-shot recv: each connection's own buffer.
constexpr std::size_t kReceiveSize = 16 * 1024;
// Shutdown: how long to wait for the kernel to hand back cancelled requests.
constexpr auto kDrainDeadline = std::chrono::milliseconds(500);

// Open connections over every loop, for --max-conns.
std::atomic<std::size_t> open_connections{0};

// ---- user_data: which operation, on which connection ----
enum class Op : std::uint8_t { kIgnore, kShutdown, kAccept, kAcceptResume, kRecv, kSend };

struct Tag {
  Op op = Op::kIgnore;
  std::uint32_t slot = 0;        // index into the connection table (24 bits)
  std::uint32_t generation = 0;  // which occupant of that slot
};

std::uint64_t encode(Tag tag) {
  return std::uint64_t{tag.generation} << 32 | std::uint64_t{tag.slot} << 8 | static_cast<std::uint8_t>(tag.op);
}

Tag decode(std::uint64_t data) {
  return Tag{static_cast<Op>(data & 0xff), static_cast<std::uint32_t>(data >> 8) & 0xffffff,
             static_cast<std::uint32_t>(data >> 32)};
}

// ---- the ring, and what this kernel offers ----
// Defer completion work to our own io_uring_enter (6.1), else run it cooperatively (5.19), else the old default.
// Returns the setup flags taken, for the log line.
std::string init_ring(io_uring& ring) {
  struct Setup {
    unsigned flags;
    const char* name;
  };
  int first_error = 0;
  for (const Setup& setup : {Setup{IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
                             Setup{IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"}, Setup{0, "default setup"}}) {
    const int rc = io_uring_queue_init(kRingEntries, &ring, setup.flags);
    if (rc == 0) return setup.name;
    if (first_error == 0) first_error = -rc;
    if (rc != -EINVAL) break;  // only an unknown flag is worth another try
  }
  fail("io_uring unavailable: " + errno_message("io_uring_queue_init", first_error));
}

class BufferRing {
 public:
  // Registers kBufferCount buffers as group kBufferGroup. False when the kernel has no buffer rings (before 5.19).
  bool register_with(io_uring& ring) {
    const std::size_t bytes = kBufferCount * sizeof(io_uring_buf);
    void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (memory == MAP_FAILED) die_errno("mmap", errno);
    io_uring_buf_reg registration{};
    registration.ring_addr = reinterpret_cast<std::uintptr_t>(memory);
    registration.ring_entries = kBufferCount;
    registration.bgid = kBufferGroup;
    if (io_uring_register_buf_ring(&ring, &registration, 0) != 0) {
      munmap(memory, bytes);
      return false;
    }
    ring_ = static_cast<io_uring_buf_ring*>(memory);
    storage_ = std::make_unique_for_overwrite<char[]>(std::size_t{kBufferCount} * kBufferSize);
    io_uring_buf_ring_init(ring_);
    for (unsigned id = 0; id < kBufferCount; ++id) give_back(static_cast<unsigned short>(id));
    publish();
    return true;
  }

  ~BufferRing() {
    if (ring_ != nullptr) munmap(ring_, kBufferCount * sizeof(io_uring_buf));
  }

  std::span<const char> bytes(unsigned short id, std::size_t n) const {
    return {storage_.get() + std::size_t{id} * kBufferSize, n};
  }
  // Queues a buffer for the kernel; publish() makes the batch visible with one release store.
  void give_back(unsigned short id) {
    io_uring_buf_ring_add(ring_, storage_.get() + std::size_t{id} * kBufferSize, kBufferSize, id,
                          io_uring_buf_ring_mask(kBufferCount), static_cast<int>(pending_++));
  }
  void publish() {
    if (pending_ == 0) return;
    io_uring_buf_ring_advance(ring_, static_cast<int>(pending_));
    pending_ = 0;
  }

 private:
  io_uring_buf_ring* ring_ = nullptr;
  std::unique_ptr<char[]> storage_;
  unsigned pending_ = 0;
};

struct Connection {
  Connection(UniqueFd socket, const SessionConfig& config) : fd(std::move(socket)), session(config) {}

  UniqueFd fd;
  Session session;
  std::unique_ptr<char[]> input;  // single-shot recv only
  OutputSlice output;             // the slice of session output being sent
  bool receiving = false;   // a recv (multishot or not) is in flight
  bool cancelling = false;  // asked to cancel the multishot recv (backpressure)
  bool sending = false;
  bool closing = false;
  bool shut_down = false;
};

struct Slot {
  std::uint32_t generation = 0;
  std::unique_ptr<Connection> connection;
};

class UringLoop {
 public:
  UringLoop(const Server& server, bool single_shot) : server_(server), shutdown_(open_shutdown_fd()) {
    setup_ = init_ring(ring_);
    std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> probe(io_uring_get_probe_ring(&ring_),
                                                                     io_uring_free_probe);
    for (int op : {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND, IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL,
                   IORING_OP_TIMEOUT}) {
      if (!probe || !io_uring_opcode_supported(probe.get(), op)) {
        fail("io_uring unavailable: the kernel lacks IORING_OP_RECV/SEND/ACCEPT (needs Linux 5.6 or later)");
      }
    }
    // The kernel cannot be asked whether it takes a flag, only whether it knows an opcode: IORING_OP_SEND_ZC came
    // in 6.0 with multishot recv, and registering a buffer ring succeeds from 5.19, with multishot accept.
    multishot_ = !single_shot && io_uring_opcode_supported(probe.get(), IORING_OP_SEND_ZC) &&
                 buffers_.register_with(ring_);
  }

  ~UringLoop() { io_uring_queue_exit(&ring_); }

  std::string path() const {
    return (multishot_ ? "multishot accept, multishot recv into a provided-buffer ring (" +
                             std::to_string(kBufferCount) + " x " + std::to_string(kBufferSize / 1024) + " KiB)"
                       : std::string("single-shot accept, single-shot recv into each connection's buffer")) +
           "; ring: " + setup_;
  }

  void run(UniqueFd listener) {
    listener_ = std::move(listener);
    io_uring_prep_poll_add(next_sqe(Tag{Op::kShutdown}), shutdown_.get(), POLLIN);
    arm_accept();
    while (!stopping_) {
      const int rc = io_uring_submit_and_wait(&ring_, 1);
      // EAGAIN: no memory for the requests now; EBUSY: completions must be reaped first. Reaping is next anyway.
      if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) die_errno("io_uring_submit_and_wait", -rc);
      reap();
    }
    stop();
  }

 private:
  // ---- submissions ----
  io_uring_sqe* next_sqe(Tag tag) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {  // the submission queue is full: hand it to the kernel now
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) die_errno("io_uring_get_sqe", EBUSY);
    }
    io_uring_sqe_set_data64(sqe, encode(tag));
    if (tag.op != Op::kIgnore) ++in_flight_;
    return sqe;
  }

  void arm_accept() {
    accept_armed_ = true;
    io_uring_sqe* sqe = next_sqe(Tag{Op::kAccept});
    if (multishot_) {
      io_uring_prep_multishot_accept(sqe, listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    } else {
      io_uring_prep_accept(sqe, listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    }
  }

  void cancel(Tag tag) { io_uring_prep_cancel64(next_sqe(Tag{Op::kIgnore}), encode(tag), 0); }

  void receive_next(std::uint32_t slot, Connection& connection) {
    io_uring_sqe* sqe = next_sqe(tag(Op::kRecv, slot));
    if (multishot_) {
      io_uring_prep_recv_multishot(sqe, connection.fd.get(), nullptr, 0, 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = kBufferGroup;
    } else {
      io_uring_prep_recv(sqe, connection.fd.get(), connection.input.get(), kReceiveSize, 0);
    }
    connection.receiving = true;
  }

  void send_next(std::uint32_t slot, Connection& connection) {
    const std::span<char> rest = connection.output.next(connection.session);
    if (rest.empty()) return;
    io_uring_prep_send(next_sqe(tag(Op::kSend, slot)), connection.fd.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    connection.sending = true;
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
    if (multishot_) buffers_.publish();
  }

  void on_completion(const io_uring_cqe& cqe) {
    const Tag done = decode(cqe.user_data);
    const bool last = (cqe.flags & IORING_CQE_F_MORE) == 0;  // the request is over; it produces nothing more
    if (done.op != Op::kIgnore && last) --in_flight_;
    switch (done.op) {
      case Op::kIgnore:  // the result of a cancel request
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
    } else {
      on_send(*connection, cqe.res);
    }
    if (!stopping_) pump(done.slot);
  }

  void on_accept(int res, bool last) {
    if (last) accept_armed_ = false;
    if (res >= 0) {
      UniqueFd fd(res);
      // Over --max-conns (or stopping), fd closes at once as it goes out of scope.
      if (!stopping_ && !over_connection_limit(server_.options, open_connections.load())) {
        set_nodelay(fd.get());
        add_connection(std::move(fd));
      }
    } else if (res != -ECANCELED) {
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
    if (last) {
      connection.receiving = false;
      connection.cancelling = false;
    }
    const int res = cqe.res;
    if (res > 0) {
      std::span<const char> bytes{connection.input.get(), static_cast<std::size_t>(res)};
      if (cqe.flags & IORING_CQE_F_BUFFER) bytes = buffers_.bytes(buffer_id(cqe), static_cast<std::size_t>(res));
      if (!connection.closing) connection.session.receive(bytes);
      if (cqe.flags & IORING_CQE_F_BUFFER) buffers_.give_back(buffer_id(cqe));
    } else if (res == 0) {
      connection.session.receive_eof();
    } else if (res == -ENOBUFS) {
      ++ran_dry_;  // the buffer ring ran dry and the multishot recv ended: pump() re-arms it
    } else if (res != -ECANCELED) {
      if (connection_error_is_fatal("recv", -res)) connection.closing = true;
    }
  }

  static void on_send(Connection& connection, int res) {
    connection.sending = false;
    if (res < 0) {
      if (res == -ECANCELED || connection_error_is_fatal("send", -res)) connection.closing = true;
      return;
    }
    // A short send leaves the rest of the slice, which pump() sends next: bytes leave in order.
    connection.output.sent(connection.session, static_cast<std::size_t>(res));
  }

  // Submits what the connection needs next, or closes it.
  void pump(std::uint32_t slot) {
    Connection& connection = *slots_[slot].connection;
    if (!connection.closing && connection.session.done()) connection.closing = true;
    if (connection.closing) {
      close(slot);
      return;
    }
    if (!connection.sending) send_next(slot, connection);
    if (connection.session.wants_input()) {
      if (!connection.receiving) receive_next(slot, connection);
    } else if (connection.receiving && multishot_ && !connection.cancelling) {
      // Backpressure: a multishot recv would go on filling the session; cancel it, re-arm when output drains.
      cancel(tag(Op::kRecv, slot));
      connection.cancelling = true;
    }
  }

  // ---- the connection table ----
  Tag tag(Op op, std::uint32_t slot) const { return Tag{op, slot, slots_[slot].generation}; }

  Connection* lookup(Tag done) {
    if (done.slot >= slots_.size() || slots_[done.slot].generation != done.generation) return nullptr;
    return slots_[done.slot].connection.get();
  }

  static unsigned short buffer_id(const io_uring_cqe& cqe) {
    return static_cast<unsigned short>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  }

  void add_connection(UniqueFd fd) {
    std::uint32_t slot = 0;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(slots_.size());
      if (slot > 0xffffff) return;  // the 24 bits of a tag's slot: closed at once
      slots_.emplace_back();
    }
    auto connection = std::make_unique<Connection>(std::move(fd), server_.session);
    if (!multishot_) connection->input = std::make_unique_for_overwrite<char[]>(kReceiveSize);
    slots_[slot].connection = std::move(connection);
    ++open_connections;
    pump(slot);
  }

  // A connection is freed only once the kernel has handed back everything it lent it. shutdown(2) ends a recv
  // waiting for data (it completes with 0) and a send waiting for room (it fails), so their completions come soon.
  void close(std::uint32_t slot) {
    Connection& connection = *slots_[slot].connection;
    if (connection.receiving || connection.sending) {
      if (!connection.shut_down) ::shutdown(connection.fd.get(), SHUT_RDWR);
      connection.shut_down = true;
      return;
    }
    slots_[slot].connection.reset();
    ++slots_[slot].generation;
    free_slots_.push_back(slot);
    --open_connections;
    resume_accepting();
  }

  // Cancel every request in the ring, reap until none is in flight (or the deadline passes), then close every
  // connection, output still pending or not.
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
    }
    if (in_flight_ > 0) {
      log_message(std::to_string(in_flight_) + " io_uring request(s) still in flight at exit");
      // Their buffers stay lent to the kernel: leave them to the process exit rather than free them now.
      for (Slot& slot : slots_) static_cast<void>(slot.connection.release());
    }
    for (Slot& slot : slots_) {
      if (slot.connection) --open_connections;
    }
    slots_.clear();
    if (ran_dry_ > 0) {
      log_message("the provided-buffer ring ran dry " + std::to_string(ran_dry_) +
                  " time(s); each time the multishot recv was re-armed");
    }
  }

  const Server& server_;
  UniqueFd shutdown_;
  UniqueFd listener_;
  io_uring ring_{};
  std::string setup_;
  BufferRing buffers_;
  bool multishot_ = false;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  long in_flight_ = 0;  // requests that will still produce a completion
  unsigned long ran_dry_ = 0;
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
      .flags = {{"single-shot", "no multishot or provided buffers: one accept and one recv per submission"}},
  };
  // The rings are made before the banner: where io_uring is unavailable the server exits 1 without ever claiming
  // to listen (and a busy port is still reported as such).
  // The loops keep a reference to their settings: a copy that stays put (start_server's result may move).
  Server settings;
  std::vector<UniqueFd> listeners;
  std::unique_ptr<UringLoop> first;
  std::vector<std::jthread> loops;  // joined when it goes out of scope, after loop 0 has returned
  start_server(argc, argv, model, {.listener_per_thread = true}, [&](Server& started) {
    settings.options = started.options;
    settings.session = started.session;
    listeners = open_listeners(started, started.options.threads);
    const bool single_shot = settings.options.flag("single-shot");
    first = std::make_unique<UringLoop>(settings, single_shot);
    log_message(first->path());
    // Each further loop makes its ring on its own thread: a ring set up with IORING_SETUP_SINGLE_ISSUER belongs to
    // the thread that created it. Every loop has its descriptors before any loop accepts (and before the banner),
    // so that none finds them all taken.
    std::latch made(static_cast<std::ptrdiff_t>(listeners.size() - 1));
    for (std::size_t i = 1; i < listeners.size(); ++i) {
      loops.emplace_back([&settings, &listeners, &made, i, single_shot] {
        UringLoop loop(settings, single_shot);
        made.count_down();
        loop.run(std::move(listeners[i]));
      });
    }
    made.wait();
  });
  first->run(std::move(listeners.front()));
  return 0;
}
