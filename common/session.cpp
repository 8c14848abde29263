#include "common/session.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "common/http_exchange.hpp"

namespace iomodels {
namespace {

enum class Detected { kUndecided, kHttp, kEcho };

// docs/PROTOCOL.md: a connection is HTTP when it begins with one of these methods and one space (case-sensitive).
constexpr std::array<std::string_view, 7> kMethods = {"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ",
                                                      "PATCH "};

// Decides as soon as the bytes so far either complete a method and its space or can no longer begin one.
Detected detect(std::string_view prefix) {
  bool could_be_http = false;
  for (std::string_view method : kMethods) {
    if (prefix.size() >= method.size()) {
      if (prefix.starts_with(method)) return Detected::kHttp;
    } else if (method.starts_with(prefix)) {
      could_be_http = true;
    }
  }
  return could_be_http ? Detected::kUndecided : Detected::kEcho;
}

// Reads land in chunks of at least this much room, so that a buffer with a little free space is compacted or
// grown rather than offered for a tiny read.
constexpr std::size_t kMinReadRoom = 16 * 1024;

}  // namespace

Session::Session(const SessionConfig& config) : max_body_(config.max_body), mode_(config.mode) {
  if (mode_ == Mode::kHttp) become_http({});
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

bool Session::closing() const { return http_ && http_->closing(); }

bool Session::wants_input() const {
  return !peer_eof_ && !closing() && output_.size() < kMaxPendingOutput;
}

std::size_t Session::input_room() const { return wants_input() ? kMaxPendingOutput - output_.size() : 0; }

bool Session::has_output() const { return mode_ != Mode::kAuto && !output_.empty(); }

bool Session::done() const { return (peer_eof_ || closing()) && !has_output(); }

std::span<const char> Session::pending_output() const {
  if (!has_output()) return {};
  return output_.readable();
}

void Session::consume_output(std::size_t n) { output_.consume(n); }

std::span<char> Session::read_buffer() {
  if (!wants_input()) return {};
  if (mode_ == Mode::kHttp) return http_->input().writable(kMinReadRoom, kReadChunk);
  // Raw echo (and auto, undecided) reads straight into the output buffer, never past the backpressure bound.
  const std::size_t room = kMaxPendingOutput - output_.size();
  return output_.writable(std::min(kMinReadRoom, room), std::min(kReadChunk, room));
}

void Session::commit_read(std::size_t n) {
  if (mode_ == Mode::kHttp) {
    Buffer& input = http_->input();
    input.commit(n);
    http_->feed(input.view(), output_);
    input.clear();
    return;
  }
  output_.commit(n);
  if (mode_ == Mode::kAuto) decide_mode();
}

void Session::release_read_buffer() {
  Buffer& buffer = mode_ == Mode::kHttp ? http_->input() : output_;
  if (buffer.empty()) buffer.clear();
}

void Session::receive(std::span<const char> bytes) {
  if (peer_eof_ || closing() || bytes.empty()) return;
  const std::string_view view(bytes.data(), bytes.size());
  if (mode_ == Mode::kHttp) {
    http_->feed(view, output_);
    return;
  }
  output_.append(view);
  if (mode_ == Mode::kAuto) decide_mode();
}

void Session::receive_eof() {
  peer_eof_ = true;
  // docs/PROTOCOL.md: a peer that half-closes before the mode is decided gets its bytes back as raw echo.
  if (mode_ == Mode::kAuto) mode_ = Mode::kEcho;
}

void Session::decide_mode() {
  switch (detect(output_.view())) {
    case Detected::kUndecided:
      return;
    case Detected::kEcho:
      mode_ = Mode::kEcho;
      return;
    case Detected::kHttp: {
      // The bytes so far are a request, not output: move them out before responses go in.
      Buffer request = std::move(output_);
      become_http(request.view());
      return;
    }
  }
}

void Session::become_http(std::string_view first_bytes) {
  mode_ = Mode::kHttp;
  http_ = std::make_unique<detail::HttpExchange>(max_body_);
  if (!first_bytes.empty()) http_->feed(first_bytes, output_);
}

}  // namespace iomodels
