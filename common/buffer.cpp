#include "common/buffer.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>

namespace iomodels {

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  data_ = std::move(other.data_);
  capacity_ = std::exchange(other.capacity_, 0);
  read_index_ = std::exchange(other.read_index_, 0);
  write_index_ = std::exchange(other.write_index_, 0);
  return *this;
}

void Buffer::consume(std::size_t n) {
  assert(n <= size() && "consume past the readable bytes");
  read_index_ += n;
  if (read_index_ == write_index_) clear();
}

std::span<char> Buffer::writable(std::size_t min_bytes, std::size_t max_bytes) {
  assert(min_bytes <= max_bytes && "writable: min_bytes over max_bytes");
  if (capacity_ - write_index_ < min_bytes) {
    const std::size_t live = size();
    if (capacity_ - live >= min_bytes && read_index_ > 0) {
      // Enough room once the consumed front is reclaimed: slide the live bytes down instead of growing.
      std::memmove(data_.get(), data_.get() + read_index_, live);
    } else {
      const std::size_t new_capacity = std::max(live + min_bytes, capacity_ * 2);
      auto bigger = std::make_unique_for_overwrite<char[]>(new_capacity);
      if (live > 0) std::memcpy(bigger.get(), data_.get() + read_index_, live);
      data_ = std::move(bigger);
      capacity_ = new_capacity;
    }
    read_index_ = 0;
    write_index_ = live;
  }
  return {data_.get() + write_index_, std::min(capacity_ - write_index_, max_bytes)};
}

void Buffer::append(std::string_view bytes) {
  if (bytes.empty()) return;
  auto space = writable(bytes.size(), bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

void Buffer::clear() {
  data_.reset();
  capacity_ = 0;
  read_index_ = 0;
  write_index_ = 0;
}

}  // namespace iomodels
