#include "client/http_response.hpp"

#include <charconv>
#include <strings.h>

namespace iomodels::loadgen {
namespace {

constexpr std::string_view kEndOfHead = "\r\n\r\n";

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether a comma-separated header value lists `token` (RFC 9110 §7.6.1: Connection is such a list).
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (equals_ignoring_case(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

void ResponseHead::reset() {
  state_ = State::kReading;
  pending_.clear();
  error_.clear();
  status_ = 0;
  content_length_ = -1;
  close_ = chunked_ = false;
  head_bytes_ = 0;
}

void ResponseHead::fail(std::string message) {
  state_ = State::kFailed;
  error_ = std::move(message);
}

std::size_t ResponseHead::feed(std::string_view bytes) {
  if (state_ != State::kReading) return 0;
  if (pending_.empty()) {
    const auto end = bytes.find(kEndOfHead);
    if (end != std::string_view::npos) {
      parse(bytes.substr(0, end + kEndOfHead.size()));
      return end + kEndOfHead.size();
    }
  }
  // The blank line may straddle two reads: search again from just before the bytes already held.
  const std::size_t held = pending_.size();
  pending_.append(bytes);
  const auto end = pending_.find(kEndOfHead, held >= 3 ? held - 3 : 0);
  if (end == std::string::npos) {
    if (pending_.size() > kMaxHeadBytes) fail("response head over " + std::to_string(kMaxHeadBytes) + " bytes");
    return bytes.size();
  }
  const std::size_t used = end + kEndOfHead.size() - held;
  std::string head = std::move(pending_);
  pending_.clear();
  head.resize(end + kEndOfHead.size());
  parse(head);
  return used;
}

void ResponseHead::parse(std::string_view head) {
  head_bytes_ = head.size();
  head.remove_suffix(2);  // the blank line's CRLF; every remaining line ends in CRLF
  auto line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK": the version, one space, three digits, then a space or the end (RFC 9112 §4).
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return fail("malformed status line '" + std::string(status_line.substr(0, 64)) + "'");
  }
  // Three digits, not just a number: from_chars takes "-12" (found by fuzz/http_response_fuzz).
  int status = 0;
  const auto [ptr, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
  if (ec != std::errc() || ptr != status_line.data() + 12 || status_line[9] < '0' || status_line[9] > '9') {
    return fail("malformed status line '" + std::string(status_line.substr(0, 64)) + "'");
  }
  status_ = status;

  head.remove_prefix(line_end + 2);
  while (!head.empty()) {
    line_end = head.find("\r\n");
    const std::string_view line = head.substr(0, line_end);
    head.remove_prefix(line.size() + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail("malformed header line '" + std::string(line.substr(0, 64)) + "'");
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equals_ignoring_case(name, "content-length")) {
      long long length = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (error != std::errc() || end != value.data() + value.size() || length < 0 ||
          (content_length_ >= 0 && content_length_ != length)) {
        return fail("bad Content-Length '" + std::string(value) + "'");
      }
      content_length_ = length;
    } else if (equals_ignoring_case(name, "connection")) {
      if (lists_token(value, "close")) close_ = true;
    } else if (equals_ignoring_case(name, "transfer-encoding")) {
      chunked_ = lists_token(value, "chunked");
    }
  }
  state_ = State::kDone;
}

}  // namespace iomodels::loadgen
