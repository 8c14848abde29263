// The next part of a session's output, copied out of it for completion-based IO (POSIX AIO, io_uring): the kernel
// or glibc's helper thread reads the bytes after the call has returned, while the session's own buffer may move or
// be freed in the meantime. The copy stays put until every byte of it has been sent.
#pragma once
#include <algorithm>
#include <cassert>
#include <cstddef>
#include <span>
#include <vector>

#include "common/limits.hpp"
#include "common/session.hpp"

namespace iomodels {

class OutputSlice {
 public:
  // The largest slice copied at once, unless the caller asks for more.
  static constexpr std::size_t kMaxSize = kReadChunk;

  // The bytes to send next: what is left of the current slice, or a fresh copy of at most max bytes of the
  // session's pending output once the slice has all gone. Empty when nothing is owed. Stays valid until sent() or
  // the next call.
  std::span<char> next(const Session& session, std::size_t max = kMaxSize) {
    if (sent_ == bytes_.size()) {
      const auto pending = session.pending_output();
      const std::size_t n = std::min(pending.size(), max);
      bytes_.assign(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(n));
      sent_ = 0;
    }
    return {bytes_.data() + sent_, bytes_.size() - sent_};
  }

  // n bytes of the slice left: they leave the session too. A short send leaves the rest for next().
  void sent(Session& session, std::size_t n) {
    assert(n <= bytes_.size() - sent_);
    sent_ += n;
    session.consume_output(n);
  }

 private:
  std::vector<char> bytes_;
  std::size_t sent_ = 0;
};

}  // namespace iomodels
