// Parsing the head of an HTTP/1.1 response as it arrives, in pieces of any size.
//
// The load generator only needs what the suite's servers send (docs/PROTOCOL.md, HTTP echo): a status line, headers,
// and a body framed by Content-Length. The body itself is not parsed here: the engine compares it byte for byte
// with what it sent, as it does for raw echo.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace iomodels::loadgen {

class ResponseHead {
 public:
  // A head larger than this is an error (the servers' own limit on request heads is 8 KiB).
  static constexpr std::size_t kMaxHeadBytes = 16 * 1024;

  // Consumes bytes of the head; answers how many it used. Once done() or failed(), it consumes nothing more.
  std::size_t feed(std::string_view bytes);
  void reset();

  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kFailed; }
  const std::string& error() const { return error_; }

  int status() const { return status_; }
  // -1 when the response has no Content-Length.
  long long content_length() const { return content_length_; }
  bool connection_close() const { return close_; }
  bool chunked() const { return chunked_; }
  // The size of the head, blank line included.
  std::size_t head_bytes() const { return head_bytes_; }

 private:
  enum class State { kReading, kDone, kFailed };
  void parse(std::string_view head);
  void fail(std::string message);

  State state_ = State::kReading;
  std::string pending_;  // a head split across reads; empty in the common case of a head that arrives whole
  std::string error_;
  int status_ = 0;
  long long content_length_ = -1;
  bool close_ = false;
  bool chunked_ = false;
  std::size_t head_bytes_ = 0;
};

}  // namespace iomodels::loadgen
