#include "common/http_exchange.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <strings.h>

#include "common/limits.hpp"

namespace iomodels::detail {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

const char* status_text(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    default: return "Error";
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

HttpExchange& exchange_of(llhttp_t* parser) { return *static_cast<HttpExchange*>(parser->data); }

}  // namespace

HeaderScanner::Verdict HeaderScanner::scan(const char* data, std::size_t n, std::size_t* used) {
  static constexpr std::string_view kVersionPrefix = "HTTP/";
  for (std::size_t i = 0; i < n; ++i) {
    const char c = data[i];
    *used = i;
    if (++bytes_ > kMaxHeaderBytes) return Verdict::kTooLarge;
    if (after_cr_ && c != '\n') return Verdict::kBadRequest;  // a bare CR
    if (c == '\r') {
      after_cr_ = true;
      continue;
    }
    after_cr_ = false;
    if (c == '\n') {
      if (in_request_line_) {
        // RFC 9112 §2.2: empty lines before the request line are ignored.
        if (!line_empty_ && (request_line_spaces_ != 2 || !version_prefix_ok_ || version_length_ <= kVersionPrefix.size())) {
          return Verdict::kBadRequest;
        }
        in_request_line_ = line_empty_;
      } else if (line_empty_) {
        *used = i + 1;
        return Verdict::kComplete;
      } else if (!seen_colon_) {
        return Verdict::kBadRequest;  // a header line without a colon
      }
      line_empty_ = true;
      seen_colon_ = false;
      continue;
    }
    if (in_request_line_) {
      if (c == ' ') {
        ++request_line_spaces_;
      } else if (request_line_spaces_ == 2) {
        version_prefix_ok_ = version_prefix_ok_ &&
                             (version_length_ >= kVersionPrefix.size() || kVersionPrefix[version_length_] == c);
        ++version_length_;
      }
    } else if (!seen_colon_) {
      // RFC 9112 §5.2 forbids obsolete line folding (a line starting with whitespace), and §5.1 whitespace
      // between a field name and its colon.
      if (is_blank(c)) return Verdict::kBadRequest;
      seen_colon_ = c == ':';
    }
    line_empty_ = false;
  }
  *used = n;
  return Verdict::kNeedMore;
}

ChunkedDecoder::Verdict ChunkedDecoder::decode(const char* data, std::size_t n, std::size_t max_body,
                                               std::string& body, std::size_t* used) {
  for (std::size_t i = 0; i < n; ++i) {
    const char c = data[i];
    *used = i;
    switch (state_) {
      case State::kSize: {
        const int digit = hex_value(c);
        if (digit >= 0) {
          // Sixteen hex digits would overflow; no body this suite accepts needs more than fifteen.
          if (++size_digits_ > 15) return Verdict::kBadRequest;
          chunk_size_ = chunk_size_ * 16 + static_cast<std::uint64_t>(digit);
          break;
        }
        if (size_digits_ == 0) return Verdict::kBadRequest;
        state_ = State::kAfterSize;
        [[fallthrough]];
      }
      case State::kAfterSize:
        // RFC 9112 §7.1.1 allows whitespace (BWS) between the size and an extension.
        if (c == ';') {
          state_ = State::kExtension;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (!is_blank(c)) {
          return Verdict::kBadRequest;
        }
        break;
      case State::kExtension:
        // Extensions are accepted and ignored; only line framing and control characters are checked.
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
          return Verdict::kBadRequest;
        }
        break;
      case State::kSizeLf:
        if (c != '\n') return Verdict::kBadRequest;
        if (chunk_size_ == 0) {
          state_ = State::kTrailerLine;
        } else if (chunk_size_ > max_body - std::min(max_body, body.size())) {
          return Verdict::kTooLarge;  // refused before any of it is buffered
        } else {
          data_left_ = chunk_size_;
          state_ = State::kData;
        }
        break;
      case State::kData: {
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(data_left_, n - i));
        body.append(data + i, take);
        data_left_ -= take;
        i += take - 1;
        if (data_left_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (c != '\r') return Verdict::kBadRequest;
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (c != '\n') return Verdict::kBadRequest;
        chunk_size_ = 0;
        size_digits_ = 0;
        state_ = State::kSize;
        break;
      case State::kTrailerLine:
        // Trailer fields are checked as header fields are (RFC 9112 §7.1.2), then ignored.
        if (++trailer_bytes_ > kMaxHeaderBytes) return Verdict::kTrailerTooLarge;
        if (c == '\r') {
          state_ = line_empty_ ? State::kEndLf : State::kTrailerLf;
        } else if (!seen_colon_) {
          if (is_blank(c) || c == '\n') return Verdict::kBadRequest;
          seen_colon_ = c == ':';
        } else if (c == '\n') {
          return Verdict::kBadRequest;
        }
        line_empty_ = false;
        break;
      case State::kTrailerLf:
        if (c != '\n' || !seen_colon_) return Verdict::kBadRequest;
        line_empty_ = true;
        seen_colon_ = false;
        state_ = State::kTrailerLine;
        break;
      case State::kEndLf:
        if (c != '\n') return Verdict::kBadRequest;
        *used = i + 1;
        return Verdict::kComplete;
    }
  }
  *used = n;
  return Verdict::kNeedMore;
}

const llhttp_settings_t& HttpExchange::settings() {
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_url = on_url;
    s.on_header_field = on_header_field;
    s.on_header_field_complete = on_header_field_complete;
    s.on_header_value = on_header_value;
    s.on_header_value_complete = on_header_value_complete;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_message_complete;
    return s;
  }();
  return kSettings;
}

HttpExchange::HttpExchange(std::size_t max_body) : max_body_(max_body) {
  llhttp_init(&parser_, HTTP_REQUEST, &settings());
  parser_.data = this;
}

void HttpExchange::feed(std::string_view bytes, Buffer& output) {
  output_ = &output;
  const char* data = bytes.data();
  std::size_t n = bytes.size();
  while (n > 0 && !closing_) {
    std::size_t chunk = n;
    if (in_chunked_body_) {
      switch (chunked_.decode(data, n, max_body_, chunked_body_, &chunk)) {
        case ChunkedDecoder::Verdict::kNeedMore:
          break;
        case ChunkedDecoder::Verdict::kComplete:
          respond();
          break;
        case ChunkedDecoder::Verdict::kBadRequest:
          respond_error(400);
          return;
        case ChunkedDecoder::Verdict::kTooLarge:
          respond_error(413);
          return;
        case ChunkedDecoder::Verdict::kTrailerTooLarge:
          respond_error(431);
          return;
      }
      data += chunk;
      n -= chunk;
      continue;
    }
    if (!headers_scanned_) {
      switch (scanner_.scan(data, n, &chunk)) {
        case HeaderScanner::Verdict::kNeedMore:
          break;
        case HeaderScanner::Verdict::kComplete:
          headers_scanned_ = true;
          break;
        case HeaderScanner::Verdict::kBadRequest:
          respond_error(first_error(data, chunk, 400));
          return;
        case HeaderScanner::Verdict::kTooLarge:
          respond_error(first_error(data, chunk, 431));
          return;
      }
    }
    const llhttp_errno_t rc = llhttp_execute(&parser_, data, chunk);
    std::size_t used = chunk;
    if (rc == HPE_PAUSED || rc == HPE_PAUSED_UPGRADE) {
      // Paused at the end of a message, so that the next request's header section is scanned from its start.
      used = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data);
      if (rc == HPE_PAUSED) {
        llhttp_resume(&parser_);
      } else {
        llhttp_resume_after_upgrade(&parser_);
      }
    } else if (rc != HPE_OK) {
      respond_error(error_status_ != 0 ? error_status_ : rc == HPE_INVALID_TRANSFER_ENCODING ? 501 : 400);
      return;
    }
    data += used;
    n -= used;
  }
}

int HttpExchange::on_url(llhttp_t* parser, const char* at, std::size_t length) {
  exchange_of(parser).target_.append(at, length);
  return 0;
}

int HttpExchange::on_header_field(llhttp_t* parser, const char* at, std::size_t length) {
  exchange_of(parser).field_.append(at, length);
  return 0;
}

int HttpExchange::on_header_field_complete(llhttp_t* parser) {
  auto& self = exchange_of(parser);
  if (equals_ignoring_case(self.field_, "transfer-encoding")) {
    self.watched_ = Watched::kTransferEncoding;
    // Several Transfer-Encoding lines form one list (RFC 9110 §5.3).
    if (!self.transfer_encoding_.empty()) self.transfer_encoding_ += ',';
  } else if (equals_ignoring_case(self.field_, "expect")) {
    self.watched_ = Watched::kExpect;
  } else {
    self.watched_ = Watched::kNone;
  }
  self.field_.clear();
  return 0;
}

int HttpExchange::on_header_value(llhttp_t* parser, const char* at, std::size_t length) {
  auto& self = exchange_of(parser);
  // Only the values the exchange acts on are kept; field_ collects an Expect value until it completes.
  if (self.watched_ == Watched::kTransferEncoding) self.transfer_encoding_.append(at, length);
  if (self.watched_ == Watched::kExpect) self.field_.append(at, length);
  return 0;
}

int HttpExchange::on_header_value_complete(llhttp_t* parser) {
  auto& self = exchange_of(parser);
  if (self.watched_ == Watched::kExpect) self.expect_continue_ = equals_ignoring_case(trim(self.field_), "100-continue");
  self.field_.clear();
  self.watched_ = Watched::kNone;
  return 0;
}

int HttpExchange::on_headers_complete(llhttp_t* parser) { return exchange_of(parser).headers_complete(); }
int HttpExchange::on_message_complete(llhttp_t* parser) { return exchange_of(parser).message_complete(); }

int HttpExchange::on_body(llhttp_t* parser, const char* at, std::size_t length) {
  // Only Content-Length bodies reach llhttp's body callback: chunked ones are decoded by chunked_.
  auto& self = exchange_of(parser);
  if (!self.head_request_) self.output_->append({at, length});
  return 0;
}

int HttpExchange::reject(int status) {
  error_status_ = status;
  return -1;
}

int HttpExchange::headers_complete() {
  // CONNECT asks for a tunnel, and llhttp reads nothing after its head (the bytes are the tunnel's). An echo server
  // opens none (RFC 9110 §9.3.6): 501, and the connection closes.
  if (parser_.method == HTTP_CONNECT) return reject(501);
  const bool has_transfer_encoding = parser_.flags & F_TRANSFER_ENCODING;
  const bool has_content_length = parser_.flags & F_CONTENT_LENGTH;
  const bool http10 = parser_.http_major == 1 && parser_.http_minor == 0;
  if (has_transfer_encoding) {
    // RFC 9112 §6.1: Transfer-Encoding is not HTTP/1.0, and beside Content-Length it is a smuggling attempt.
    if (http10 || has_content_length) return reject(400);
    if (!equals_ignoring_case(trim(transfer_encoding_), "chunked")) return reject(501);
  }
  if (has_content_length && parser_.content_length > max_body_) return reject(413);

  head_request_ = parser_.method == HTTP_HEAD;
  keep_alive_ = llhttp_should_keep_alive(&parser_);
  const bool body_follows = has_transfer_encoding || (has_content_length && parser_.content_length > 0);
  // RFC 9110 §10.1.1: a 100 (Continue) only to an HTTP/1.1 client that asked and whose body is still to come.
  if (expect_continue_ && body_follows && !http10) output_->append("HTTP/1.1 100 Continue\r\n\r\n");
  if (has_content_length && parser_.content_length > 0) {
    body_streamed_ = true;
    append_head(parser_.content_length);
  }
  // Returning 1 tells llhttp the message has no body (F_SKIPBODY): it completes the message here and chunked_
  // takes the body.
  chunked_request_ = has_transfer_encoding;
  return chunked_request_ ? 1 : 0;
}

int HttpExchange::message_complete() {
  if (chunked_request_) {
    in_chunked_body_ = true;
  } else {
    respond();
  }
  // Paused at the end of the head (or message), so that what follows is scanned from its start.
  return HPE_PAUSED;
}

void HttpExchange::respond() {
  if (!body_streamed_) {
    const std::string_view body = chunked_body_.empty() ? std::string_view(target_) : std::string_view(chunked_body_);
    append_head(body.size());
    if (!head_request_) output_->append(body);
  }
  if (!keep_alive_) closing_ = true;
  target_.clear();
  transfer_encoding_.clear();
  chunked_body_.clear();
  chunked_body_.shrink_to_fit();
  expect_continue_ = false;
  chunked_request_ = false;
  in_chunked_body_ = false;
  body_streamed_ = false;
  headers_scanned_ = false;
  scanner_.reset();
  chunked_.reset();
}

void HttpExchange::append_head(std::size_t content_length) {
  char head[192];
  const char* connection = !keep_alive_ ? "Connection: close\r\n"
                           : parser_.http_minor == 0 ? "Connection: keep-alive\r\n"
                                                     : "";
  const int length = std::snprintf(head, sizeof head,
                                   "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                   "Content-Length: %zu\r\n%s\r\n",
                                   content_length, connection);
  output_->append({head, static_cast<std::size_t>(length)});
}

int HttpExchange::first_error(const char* data, std::size_t n, int scanner_status) {
  // llhttp has seen only the bytes of earlier reads: it sees the rest up to the byte the scanner refused, so that
  // whichever of the two finds the first fault decides the status however the bytes were split into reads (a
  // broken head over 8 KiB got 431 or 400, a bad line after a bad Transfer-Encoding 400 or 501, by the split; found
  // by fuzz/session_fuzz).
  if (n == 0) return scanner_status;
  const llhttp_errno_t rc = llhttp_execute(&parser_, data, n);
  if (rc == HPE_OK || rc == HPE_PAUSED || rc == HPE_PAUSED_UPGRADE) return scanner_status;
  return error_status_ != 0 ? error_status_ : rc == HPE_INVALID_TRANSFER_ENCODING ? 501 : 400;
}

void HttpExchange::respond_error(int status) {
  // The body names only the status: llhttp and the scanner may notice one bad input at different bytes
  // depending on how it was split, and the response must not depend on that.
  char response[256];
  const int length = std::snprintf(response, sizeof response,
                                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                                   "Connection: close\r\n\r\n%d %s\n",
                                   status, status_text(status), std::to_string(status).size() + 2 + std::strlen(status_text(status)),
                                   status, status_text(status));
  output_->append({response, static_cast<std::size_t>(length)});
  closing_ = true;
}

}  // namespace iomodels::detail
