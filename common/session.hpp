// The protocol session: bytes received in, bytes to send out, and no IO of its own (docs/PROTOCOL.md, "Modes").
// Every server drives the same Session, so the models differ only in how they wait; tests need no sockets.
//
// A server's loop, whatever its model:
//   read:   span = session.read_buffer();  n = recv(fd, span);  n > 0 ? session.commit_read(n)
//                                                                      : session.receive_eof();
//           (or session.receive(bytes) when the bytes already sit in a buffer of the model's own)
//   write:  out = session.pending_output();  n = send(fd, out);  session.consume_output(n);
//   wait for readable only while session.wants_input(), for writable only while session.has_output(),
//   and close the connection once session.done().
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/buffer.hpp"
#include "common/limits.hpp"
#include "common/options.hpp"

namespace iomodels {

struct SessionConfig {
  Mode mode = Mode::kAuto;
  std::size_t max_body = kDefaultMaxBody;
};

namespace detail {
class HttpExchange;
}

class Session {
 public:
  explicit Session(const SessionConfig& config);
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Where the next recv should land. Empty when the session takes no input now (see wants_input()).
  // In raw echo this is the tail of the output buffer itself, so an echoed byte is copied only by the kernel.
  std::span<char> read_buffer();
  // The span stays valid only until the next call that changes the session (consume_output, receive, ...).
  // n bytes were received into read_buffer().
  void commit_read(std::size_t n);
  // A read into read_buffer() found nothing (EAGAIN): give back the storage it may have allocated, so that an
  // idle connection holds no buffer.
  void release_read_buffer();
  // Bytes received into a buffer of the caller's (libevent, libuv, io_uring provided buffers); copies them.
  void receive(std::span<const char> bytes);
  // The peer half-closed: what is owed is still sent, then the session is done.
  void receive_eof();

  std::span<const char> pending_output() const;
  void consume_output(std::size_t n);
  bool has_output() const;

  // False once the peer half-closed, once the session decided to close (HTTP error, Connection: close),
  // and while pending output is at or above kMaxPendingOutput (backpressure).
  bool wants_input() const;
  // Bytes of input the session takes before backpressure stops it (0 when !wants_input()): a cap for a receive
  // that goes on by itself, such as io_uring's multishot recv.
  std::size_t input_room() const;
  // Nothing more will be sent and nothing more is wanted: close the connection.
  bool done() const;

  // What the connection turned out to be (kAuto until the first bytes decide).
  Mode mode() const { return mode_; }

 private:
  void decide_mode();
  void become_http(std::string_view first_bytes);
  bool closing() const;

  std::size_t max_body_;
  Mode mode_;
  bool peer_eof_ = false;
  // Raw echo: received bytes wait here until sent. Auto, undecided: the bytes so far (not yet output).
  // HTTP: responses.
  Buffer output_;
  // HTTP state exists only once a connection is HTTP, to keep raw and idle connections small.
  std::unique_ptr<detail::HttpExchange> http_;
};

}  // namespace iomodels
