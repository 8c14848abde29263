// The io_uring server's plumbing: which features it uses (flags, kernel probes, fallbacks), the ring's setup, the
// provided-buffer ring, and the user_data encoding. The model itself, the loop, is in io_uring.cpp.
//
// Header-only on purpose: the Makefile links every non-main .cpp of async/ into both of its binaries, and aio does
// not link liburing.
#pragma once
#include <liburing.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <latch>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/errors.hpp"
#include "common/fd.hpp"
#include "common/listener.hpp"
#include "common/options.hpp"
#include "common/server.hpp"

namespace iomodels::uring {

// Constants newer than the liburing 2.3 headers Debian ships; the values are the kernel's ABI
// (include/uapi/linux/io_uring.h), so they work wherever the running kernel has the feature.
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4)  // Linux 6.10: one recv fills several provided buffers
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif
#ifndef SOCKET_URING_OP_SETSOCKOPT
#define SOCKET_URING_OP_SETSOCKOPT 3  // Linux 6.7: IORING_OP_URING_CMD on a socket, which may be a direct descriptor
#endif

// ---- the features, one flag each ----
struct Features {
  bool multishot = true;      // multishot accept and multishot recv (5.19 / 6.0)
  bool buffer_ring = true;    // receive into a shared provided-buffer ring (5.19), not a buffer per connection
  bool recv_bundle = true;    // one recv completion covers several buffers (6.10)
  bool recv_limit = true;     // a multishot recv ends by itself after the bytes the session has room for (6.17)
  bool defer_taskrun = true;  // IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (6.1)
  bool coop_taskrun = false;  // IORING_SETUP_COOP_TASKRUN (5.19), when DEFER_TASKRUN is off
  bool ring_fd = true;        // io_uring_register_ring_fd (5.18): io_uring_enter skips the fd table
  bool direct = true;         // accept into the ring's fixed file table (5.19): no process descriptor per connection
  bool send_zc = false;       // IORING_OP_SEND_ZC (6.0) for sends of kZeroCopyMin bytes or more
  bool linked_sends = false;  // up to kLinkedSends sends per connection in flight, chained with IOSQE_IO_LINK
  bool sqpoll = false;        // IORING_SETUP_SQPOLL: a kernel thread polls the submission ring (spends a core)
};

// Sends smaller than this are copied anyway: pinning pages and the extra notification cost more than a copy.
constexpr std::size_t kZeroCopyMin = 16 * 1024;
// With --linked-sends: at most this many sends of one slice's size each in one chain.
constexpr std::size_t kLinkedSends = 4;

// Every flag, for ModelInfo. "--plain" turns everything off; the others turn one feature on or off from there.
inline std::vector<ModelInfo::Flag> feature_flags() {
  return {
      {"plain", "every feature below off: single-shot, a buffer per connection, no setup flags, nothing registered"},
      {"multishot", "multishot accept and recv (Linux 5.19/6.0; default on)"},
      {"single-shot", "one accept and one recv per submission"},
      {"buffer-ring", "receive into a shared provided-buffer ring (5.19; default on)"},
      {"no-buffer-ring", "receive into a 16 KiB buffer per connection (implies single-shot recv)"},
      {"recv-bundle", "one recv completion fills several provided buffers (6.10; needs the buffer ring; default on)"},
      {"no-recv-bundle", "one provided buffer per recv completion"},
      {"recv-limit", "a multishot recv ends by itself once it has received what the session has room for (6.17; "
                     "default on)"},
      {"no-recv-limit", "backpressure cancels the multishot recv, which may deliver more until the cancel lands"},
      {"defer-taskrun", "IORING_SETUP_DEFER_TASKRUN + SINGLE_ISSUER (6.1; default on)"},
      {"coop-taskrun", "IORING_SETUP_COOP_TASKRUN instead (5.19)"},
      {"no-taskrun-flags", "neither: completion work may interrupt the loop at any time"},
      {"ring-fd", "register the ring's own descriptor, io_uring_register_ring_fd (5.18; default on)"},
      {"no-ring-fd", "every io_uring_enter looks the ring up in the descriptor table"},
      {"direct", "accept into the ring's fixed file table, direct descriptors (5.19; default on)"},
      {"no-direct", "accept into ordinary descriptors of the process"},
      {"send-zc", "zero-copy IORING_OP_SEND_ZC for sends of 16 KiB or more (6.0)"},
      {"linked-sends", "up to 4 sends of 64 KiB in flight per connection, chained with IOSQE_IO_LINK and MSG_WAITALL "
                       "so that they leave in order (6.0)"},
      {"sqpoll", "IORING_SETUP_SQPOLL: a kernel thread polls for submissions, spending a core (no DEFER_TASKRUN)"},
  };
}

// The default, then --plain, then each on-flag, then each off-flag: "--plain --multishot" is plain plus multishot.
inline Features features_from(const ServerOptions& options) {
  Features f;
  if (options.flag("plain")) f = Features{false, false, false, false, false, false, false, false, false, false, false};
  auto on = [&](const char* name, bool& feature) {
    if (options.flag(name)) feature = true;
  };
  auto off = [&](const char* name, bool& feature) {
    if (options.flag(name)) feature = false;
  };
  on("multishot", f.multishot);
  on("buffer-ring", f.buffer_ring);
  on("recv-bundle", f.recv_bundle);
  on("recv-limit", f.recv_limit);
  on("defer-taskrun", f.defer_taskrun);
  on("ring-fd", f.ring_fd);
  on("direct", f.direct);
  on("send-zc", f.send_zc);
  on("linked-sends", f.linked_sends);
  on("sqpoll", f.sqpoll);
  if (options.flag("coop-taskrun")) {
    f.coop_taskrun = true;
    f.defer_taskrun = false;
  }
  off("single-shot", f.multishot);
  off("no-buffer-ring", f.buffer_ring);
  off("no-recv-bundle", f.recv_bundle);
  off("no-recv-limit", f.recv_limit);
  off("no-ring-fd", f.ring_fd);
  off("no-direct", f.direct);
  if (options.flag("no-taskrun-flags")) f.defer_taskrun = f.coop_taskrun = false;
  // DEFER_TASKRUN runs completion work only when the submitting task enters the kernel; an SQPOLL thread
  // submits for it, so the kernel refuses the pair (EINVAL).
  if (f.sqpoll) f.defer_taskrun = false;
  return f;
}

// ---- the ring ----
// Sets the ring up with the features' flags; where the kernel refuses one (EINVAL: an unknown flag), says so and
// tries without it: DEFER_TASKRUN, then COOP_TASKRUN, then none. Dies when io_uring is not available at all.
inline void init_ring(io_uring& ring, Features& f, unsigned entries) {
  int first_error = 0;
  for (;;) {
    io_uring_params params{};
    if (f.defer_taskrun) params.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    if (f.coop_taskrun) params.flags |= IORING_SETUP_COOP_TASKRUN;
    if (f.sqpoll) {
      params.flags |= IORING_SETUP_SQPOLL;
      params.sq_thread_idle = 1000;  // ms of no submissions before the thread sleeps and needs a wake-up
    }
    const int rc = io_uring_queue_init_params(entries, &ring, &params);
    if (rc == 0) return;
    if (first_error == 0) first_error = -rc;
    if (rc != -EINVAL || params.flags == 0) break;  // only an unknown flag is worth another try
    if (f.defer_taskrun) {
      log_message("DEFER_TASKRUN needs Linux 6.1; trying COOP_TASKRUN");
      f.defer_taskrun = false;
      f.coop_taskrun = true;
    } else if (f.coop_taskrun) {
      log_message("COOP_TASKRUN needs Linux 5.19; using neither");
      f.coop_taskrun = false;
    } else {
      log_message("SQPOLL refused; submitting with io_uring_enter");
      f.sqpoll = false;
    }
  }
  fail("io_uring unavailable: " + errno_message("io_uring_queue_init", first_error));
}

inline std::string describe(const Features& f, unsigned buffers, unsigned buffer_kib) {
  std::string text = f.multishot ? "multishot accept, " : "single-shot accept, ";
  text += f.multishot && f.buffer_ring ? "multishot recv" : "single-shot recv";
  text += f.buffer_ring ? " into a provided-buffer ring (" + std::to_string(buffers) + " x " +
                              std::to_string(buffer_kib) + " KiB)"
                        : " into each connection's buffer";
  if (f.recv_bundle) text += ", recv bundles";
  if (f.recv_limit) text += ", limited to the session's room";
  text += f.direct ? ", direct descriptors" : "";
  text += f.ring_fd ? ", registered ring fd" : "";
  text += f.send_zc ? ", SEND_ZC for large sends" : "";
  text += f.linked_sends ? ", linked sends" : "";
  text += "; ring: ";
  text += f.defer_taskrun ? "DEFER_TASKRUN" : f.coop_taskrun ? "COOP_TASKRUN" : "default setup";
  if (f.sqpoll) text += " + SQPOLL";
  return text;
}

// setsockopt(2) as an SQE, for a socket that has no descriptor (liburing 2.5's io_uring_prep_cmd_sock; the fields
// are the kernel's: cmd_op shares the offset, level and optname the address, optlen the file index, optval addr3).
inline void prep_setsockopt(io_uring_sqe* sqe, int socket, int level, int name, const void* value, unsigned size) {
  io_uring_prep_rw(IORING_OP_URING_CMD, sqe, socket, nullptr, 0, 0);
  sqe->off = SOCKET_URING_OP_SETSOCKOPT;
  sqe->addr = static_cast<std::uint32_t>(level) | std::uint64_t{static_cast<std::uint32_t>(name)} << 32;
  sqe->file_index = size;
  sqe->addr3 = reinterpret_cast<std::uintptr_t>(value);
}

// SO_LINGER 0: close(2) sends RST and drops what the socket still queues.
inline constexpr linger kAbortiveClose{.l_onoff = 1, .l_linger = 0};

// Two SQEs, linked: SO_LINGER 0 on a direct descriptor, then its close.
inline void prep_abortive_close_direct(io_uring_sqe* option, io_uring_sqe* close, int index) {
  prep_setsockopt(option, index, SOL_SOCKET, SO_LINGER, &kAbortiveClose, sizeof kAbortiveClose);
  option->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
  io_uring_prep_close_direct(close, static_cast<unsigned>(index));
}

// ---- user_data: which operation, on which connection ----
enum class Op : std::uint8_t { kIgnore, kShutdown, kAccept, kAcceptResume, kRecv, kSend };

struct Tag {
  Op op = Op::kIgnore;
  std::uint32_t slot = 0;        // index into the connection table (24 bits)
  std::uint32_t generation = 0;  // which occupant of that slot
};

inline std::uint64_t encode(Tag tag) {
  return std::uint64_t{tag.generation} << 32 | std::uint64_t{tag.slot} << 8 | static_cast<std::uint8_t>(tag.op);
}

inline Tag decode(std::uint64_t data) {
  return Tag{static_cast<Op>(data & 0xff), static_cast<std::uint32_t>(data >> 8) & 0xffffff,
             static_cast<std::uint32_t>(data >> 32)};
}

// The connection table: a completion names a slot and the generation of its occupant, which is bumped when the
// slot is freed, so that a late completion can never be taken for the slot's next connection.
template <typename T>
class SlotTable {
 public:
  std::uint32_t add(std::unique_ptr<T> item) {
    std::uint32_t slot = 0;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(slots_.size());  // 24 bits in a Tag: 16 million, beyond any fd table
      slots_.emplace_back();
    }
    slots_[slot].item = std::move(item);
    ++size_;
    return slot;
  }
  T* find(std::uint32_t slot, std::uint32_t generation) {
    if (slot >= slots_.size() || slots_[slot].generation != generation) return nullptr;
    return slots_[slot].item.get();
  }
  T& at(std::uint32_t slot) { return *slots_[slot].item; }
  std::uint32_t generation(std::uint32_t slot) const { return slots_[slot].generation; }
  void free(std::uint32_t slot) {
    slots_[slot].item.reset();
    ++slots_[slot].generation;
    free_.push_back(slot);
    --size_;
  }
  template <typename F>
  void for_each(F f) {
    for (Slot& slot : slots_) {
      if (slot.item) f(*slot.item);
    }
  }
  // For the exit with requests still in flight: their buffers stay lent to the kernel, so leave them to the exit.
  void leak_all() {
    for (Slot& slot : slots_) static_cast<void>(slot.item.release());
  }
  std::size_t size() const { return size_; }
  void clear() {
    slots_.clear();
    free_.clear();
    size_ = 0;
  }

 private:
  struct Slot {
    std::uint32_t generation = 0;
    std::unique_ptr<T> item;
  };
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::size_t size_ = 0;
};

// ---- the provided-buffer ring ----
inline unsigned short buffer_id(const io_uring_cqe& cqe) {
  return static_cast<unsigned short>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
}

// count buffers of size bytes (count a power of two, as the kernel requires), registered as one buffer group. The
// kernel takes buffers from the ring's head in order; a recv bundle takes several consecutive ones and names only
// the first, so the ring's order is mirrored here to find the others.
class BufferRing {
 public:
  BufferRing(unsigned count, unsigned size) : count_(count), size_(size), id_at_(count), position_of_(count) {}

  // False when the kernel has no buffer rings (before 5.19).
  bool register_with(io_uring& ring, unsigned short group) {
    const std::size_t bytes = count_ * sizeof(io_uring_buf);
    void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (memory == MAP_FAILED) die_errno("mmap", errno);
    io_uring_buf_reg registration{};
    registration.ring_addr = reinterpret_cast<std::uintptr_t>(memory);
    registration.ring_entries = count_;
    registration.bgid = group;
    if (io_uring_register_buf_ring(&ring, &registration, 0) != 0) {
      munmap(memory, bytes);
      return false;
    }
    ring_ = static_cast<io_uring_buf_ring*>(memory);
    storage_ = std::make_unique_for_overwrite<char[]>(std::size_t{count_} * size_);
    io_uring_buf_ring_init(ring_);
    for (unsigned id = 0; id < count_; ++id) give_back(static_cast<unsigned short>(id));
    publish();
    return true;
  }

  ~BufferRing() {
    if (ring_ != nullptr) munmap(ring_, count_ * sizeof(io_uring_buf));
  }

  // Calls take(bytes) for each buffer a completion of n bytes filled, starting at buffer first (one buffer, unless
  // the recv was a bundle), and gives each back, or appends its id to withheld when that is not null.
  template <typename Take>
  void consume(unsigned short first, std::size_t n, Take take, std::vector<unsigned short>* withheld) {
    unsigned position = position_of_[first];
    unsigned short id = first;
    for (;;) {
      const std::size_t chunk = n < size_ ? n : size_;
      take(std::span<const char>(storage_.get() + std::size_t{id} * size_, chunk));
      if (withheld != nullptr) {
        withheld->push_back(id);
      } else {
        give_back(id);
      }
      n -= chunk;
      if (n == 0) return;
      id = id_at_[++position & (count_ - 1)];
    }
  }

  // Queues a buffer for the kernel; publish() makes the batch visible with one release store.
  void give_back(unsigned short id) {
    const unsigned position = tail_ + pending_;
    id_at_[position & (count_ - 1)] = id;
    position_of_[id] = position;
    io_uring_buf_ring_add(ring_, storage_.get() + std::size_t{id} * size_, size_, id, io_uring_buf_ring_mask(count_),
                          static_cast<int>(pending_++));
  }
  void publish() {
    if (pending_ == 0) return;
    io_uring_buf_ring_advance(ring_, static_cast<int>(pending_));
    tail_ += pending_;
    pending_ = 0;
  }

 private:
  unsigned count_;
  unsigned size_;
  io_uring_buf_ring* ring_ = nullptr;
  std::unique_ptr<char[]> storage_;
  std::vector<unsigned short> id_at_;   // ring position (mod count) -> buffer id
  std::vector<unsigned> position_of_;   // buffer id -> its last ring position
  unsigned tail_ = 0;
  unsigned pending_ = 0;
};

inline void fall_back(bool& feature, bool missing, const char* why) {
  if (!feature || !missing) return;
  feature = false;
  log_message(why);
}

// After init_ring: checks the opcodes the loop cannot do without, then turns off (with a line on stderr) each
// wanted feature this kernel lacks, registering the buffer ring, the ring fd and the fixed file table on the way.
inline void settle_features(io_uring& ring, Features& f, BufferRing& buffers, unsigned short group) {
  std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> probe(io_uring_get_probe_ring(&ring),
                                                                   io_uring_free_probe);
  for (int op : {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND, IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL,
                 IORING_OP_TIMEOUT}) {
    if (!probe || !io_uring_opcode_supported(probe.get(), op)) {
      fail("io_uring unavailable: the kernel lacks IORING_OP_RECV/SEND/ACCEPT (needs Linux 5.6 or later)");
    }
  }
  // The kernel says which opcodes it knows, not which flags it takes: IORING_OP_SEND_ZC came in 6.0, with
  // multishot recv; registrations fail on kernels that lack them.
  const bool has_6_0 = io_uring_opcode_supported(probe.get(), IORING_OP_SEND_ZC);
  fall_back(f.multishot, !has_6_0, "multishot accept and recv need Linux 6.0; single-shot");
  fall_back(f.send_zc, !has_6_0, "SEND_ZC needs Linux 6.0; copying sends");
  // A chain needs each send to finish whole or fail the link (MSG_WAITALL on an io_uring send), else a short send
  // would let the next one go out and reorder the bytes; asked of 6.0, like the rest of the networking features.
  fall_back(f.linked_sends, !has_6_0, "linked sends need Linux 6.0; one send at a time");
  fall_back(f.buffer_ring, f.buffer_ring && !buffers.register_with(ring, group),
            "provided-buffer rings need Linux 5.19; a buffer per connection");
  fall_back(f.recv_bundle, !f.buffer_ring, "recv bundles need the provided-buffer ring; one buffer per recv");
  fall_back(f.recv_bundle, !(ring.features & IORING_FEAT_RECVSEND_BUNDLE),
            "recv bundles need Linux 6.10; one buffer per recv");
  // Only a multishot recv takes the limit. A kernel before 6.17 refuses it with EINVAL at the first recv, and the
  // loop falls back then.
  fall_back(f.recv_limit, !(f.multishot && f.buffer_ring), "the recv limit is for multishot recv; none");
  fall_back(f.ring_fd, f.ring_fd && io_uring_register_ring_fd(&ring) < 0,
            "registering the ring fd needs Linux 5.18; io_uring_enter looks it up each time");
  // The kernel caps a ring's fixed file table at RLIMIT_NOFILE (raised to the hard limit at start).
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  const auto table = static_cast<unsigned>(std::min<rlim_t>(files.rlim_cur, 1 << 20));
  fall_back(f.direct, f.direct && io_uring_register_files_sparse(&ring, table) != 0,
            "direct descriptors need Linux 5.19; ordinary descriptors");
}

// Accept, one connection or many (multishot), into an ordinary descriptor or a direct one.
inline void prep_accept(io_uring_sqe* sqe, int listener, const Features& f) {
  if (f.multishot && f.direct) {
    io_uring_prep_multishot_accept_direct(sqe, listener, nullptr, nullptr, 0);
  } else if (f.multishot) {
    io_uring_prep_multishot_accept(sqe, listener, nullptr, nullptr, SOCK_CLOEXEC);
  } else if (f.direct) {  // liburing adds one to the index; the kernel's "allocate one" is ~0
    io_uring_prep_accept_direct(sqe, listener, nullptr, nullptr, 0, IORING_FILE_INDEX_ALLOC - 1);
  } else {
    io_uring_prep_accept(sqe, listener, nullptr, nullptr, SOCK_CLOEXEC);
  }
}

// Receive, once or many times (multishot), into a buffer the kernel picks from the provided-buffer ring (one, or
// several with a bundle) or into the connection's own. With the recv limit a multishot recv ends (a completion
// without IORING_CQE_F_MORE) once it has received limit bytes, so backpressure needs no cancel.
inline void prep_recv(io_uring_sqe* sqe, int socket, const Features& f, unsigned short group, char* own,
                      std::size_t size, std::size_t limit) {
  if (!f.buffer_ring) {
    io_uring_prep_recv(sqe, socket, own, size, 0);
    return;
  }
  if (f.multishot) {
    io_uring_prep_recv_multishot(sqe, socket, nullptr, 0, 0);
    // The kernel reads the limit from the field liburing 2.3 calls file_index (optlen in newer headers).
    if (f.recv_limit) sqe->file_index = static_cast<std::uint32_t>(limit);
  } else {
    io_uring_prep_recv(sqe, socket, nullptr, 0, 0);  // length 0: the provided buffer's
  }
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = group;
  if (f.recv_bundle) sqe->ioprio |= IORING_RECVSEND_BUNDLE;
}

// One Loop per listener: loop 0 is made here and returned for the caller to run; each further loop makes its ring on
// a thread of its own (a ring set up with IORING_SETUP_SINGLE_ISSUER belongs to the thread that created it) and runs
// there. Returns once every loop has its ring, so that a kernel without io_uring fails the start, before the banner.
template <typename Loop>
std::unique_ptr<Loop> start_loops(const Server& settings, const Features& features, std::vector<UniqueFd>& listeners,
                                  std::vector<std::jthread>& threads) {
  auto first = std::make_unique<Loop>(settings, features);
  log_message(first->path());
  std::latch made(static_cast<std::ptrdiff_t>(listeners.size() - 1));
  for (std::size_t i = 1; i < listeners.size(); ++i) {
    threads.emplace_back([&settings, &listeners, &made, i, features] {
      Loop loop(settings, features);
      made.count_down();
      loop.run(std::move(listeners[i]));
    });
  }
  made.wait();
  return first;
}

}  // namespace iomodels::uring
