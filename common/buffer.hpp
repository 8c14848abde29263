// A byte buffer with a read index and a write index (muduo's Buffer, minus the prepend area):
//
//   +-------------------+------------------+------------------+
//   |  already consumed |  readable bytes  |  writable space  |
//   +-------------------+------------------+------------------+
//   0              read_index_       write_index_        capacity_
//
// Storage is allocated on first use and released as soon as the buffer drains, so that an idle connection
// holds no buffer at all.
#pragma once
#include <cassert>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace iomodels {

class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&& other) noexcept { *this = std::move(other); }
  Buffer& operator=(Buffer&& other) noexcept;

  std::size_t size() const { return write_index_ - read_index_; }
  bool empty() const { return size() == 0; }
  std::size_t capacity() const { return capacity_; }

  std::span<const char> readable() const { return {data_.get() + read_index_, size()}; }
  std::string_view view() const { return {data_.get() + read_index_, size()}; }
  // Drops n bytes (at most size()) from the front; frees the storage once nothing is left.
  void consume(std::size_t n);

  // At least min_bytes of writable space (compacting or growing as needed), at most max_bytes (>= min_bytes) shown.
  std::span<char> writable(std::size_t min_bytes, std::size_t max_bytes);
  // Marks n bytes of the writable space as written (at most what writable() last showed).
  void commit(std::size_t n) {
    assert(n <= capacity_ - write_index_ && "commit past the writable space");
    write_index_ += n;
  }
  void append(std::string_view bytes);

  void clear();

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t read_index_ = 0;
  std::size_t write_index_ = 0;
};

}  // namespace iomodels
