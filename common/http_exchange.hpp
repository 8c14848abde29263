// HTTP/1.x echo for one connection (docs/PROTOCOL.md, "HTTP/1.x echo"): llhttp frames requests; a scanner in front of
// it rejects what llhttp 8 lets through but request smuggling relies on (RFC 9112 §2–§6).
#pragma once
#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/buffer.hpp"

namespace iomodels::detail {

// Checks the raw bytes of one header section, request line included, before the parser sees them.
class HeaderScanner {
 public:
  enum class Verdict { kNeedMore, kComplete, kBadRequest, kTooLarge };

  // Scans up to n bytes. Sets *used to the bytes that belong to this header section: up to and including the
  // empty line that ends it when kComplete, all n when kNeedMore.
  Verdict scan(const char* data, std::size_t n, std::size_t* used);
  void reset() { *this = HeaderScanner(); }

 private:
  std::size_t bytes_ = 0;
  bool in_request_line_ = true;
  bool line_empty_ = true;
  bool after_cr_ = false;
  bool seen_colon_ = false;
  // The request line must be METHOD SP TARGET SP HTTP/x.y (RFC 9112 §3); llhttp 8 also takes "GET /" alone.
  int request_line_spaces_ = 0;
  std::size_t version_length_ = 0;
  bool version_prefix_ok_ = true;
};

// Decodes a chunked body (RFC 9112 §7.1), trailer section included. llhttp 8.1 refuses valid chunk extensions
// ("5;a=b;c=d", quoted pairs, whitespace around ';'), which docs/PROTOCOL.md accepts, so chunked framing is done here.
class ChunkedDecoder {
 public:
  enum class Verdict { kNeedMore, kComplete, kBadRequest, kTooLarge, kTrailerTooLarge };

  // Decodes up to n bytes and appends the data to body, which may grow to max_body. Sets *used to the bytes
  // consumed: through the end of the trailer section when kComplete, all n when kNeedMore.
  Verdict decode(const char* data, std::size_t n, std::size_t max_body, std::string& body, std::size_t* used);
  void reset() { *this = ChunkedDecoder(); }

 private:
  enum class State { kSize, kAfterSize, kExtension, kSizeLf, kData, kDataCr, kDataLf, kTrailerLine, kTrailerLf, kEndLf };
  State state_ = State::kSize;
  std::uint64_t chunk_size_ = 0;
  int size_digits_ = 0;
  std::uint64_t data_left_ = 0;
  std::size_t trailer_bytes_ = 0;
  bool line_empty_ = true;
  bool seen_colon_ = false;
};

class HttpExchange {
 public:
  explicit HttpExchange(std::size_t max_body);
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  // Parses received bytes and appends every response they complete to output.
  void feed(std::string_view bytes, Buffer& output);
  // An error response or a final response (Connection: close) has been queued: read nothing more.
  bool closing() const { return closing_; }
  // Where recv(2) lands in HTTP mode; emptied by each feed.
  Buffer& input() { return input_; }

 private:
  static int on_url(llhttp_t* parser, const char* at, std::size_t length);
  static int on_header_field(llhttp_t* parser, const char* at, std::size_t length);
  static int on_header_field_complete(llhttp_t* parser);
  static int on_header_value(llhttp_t* parser, const char* at, std::size_t length);
  static int on_header_value_complete(llhttp_t* parser);
  static int on_headers_complete(llhttp_t* parser);
  static int on_body(llhttp_t* parser, const char* at, std::size_t length);
  static int on_message_complete(llhttp_t* parser);
  static const llhttp_settings_t& settings();

  int headers_complete();
  int message_complete();
  void respond();
  int reject(int status);
  void append_head(std::size_t content_length);
  void respond_error(int status);

  llhttp_t parser_;
  HeaderScanner scanner_;
  ChunkedDecoder chunked_;
  std::size_t max_body_;
  Buffer* output_ = nullptr;  // the output of the feed() in progress
  Buffer input_;
  bool headers_scanned_ = false;
  bool in_chunked_body_ = false;  // llhttp has finished the head; chunked_ reads the body that follows
  bool closing_ = false;
  int error_status_ = 0;  // set by a callback that refuses the request

  // The request being parsed.
  enum class Watched { kNone, kTransferEncoding, kExpect };
  Watched watched_ = Watched::kNone;
  std::string field_;
  std::string target_;
  std::string transfer_encoding_;
  bool expect_continue_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool chunked_request_ = false;
  bool body_streamed_ = false;  // Content-Length body: the response head went out first, the body follows as it comes
  std::string chunked_body_;  // a chunked body's size is known only at its end, so it waits here
};

}  // namespace iomodels::detail
