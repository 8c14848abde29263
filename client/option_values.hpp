// Option values read with their option's name in every error: bin/loadgen's command line and bin/compare's.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cxxopts {
class Options;
class ParseResult;
}

namespace iomodels::loadgen {

// A value is checked by the caller rather than by cxxopts, which says only "Argument 'x' failed to parse": thrown
// with a message that names the option.
struct BadOption {
  std::string message;
};

// "500ms", "10s", "2m", "1h", "250us"; a bare number is seconds. Empty when the text is not a duration.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);
// "64", "4k", "1M" (powers of 1024). Empty when the text is not a size.
std::optional<std::size_t> parse_size(std::string_view text);
// A finite decimal number, the whole text.
std::optional<double> parse_number(std::string_view text);
// A decimal integer, the whole text.
bool parse_int(std::string_view text, int& value);
// "a,b,,c" -> {"a", "b", "", "c"}: an empty item is the caller's to refuse.
std::vector<std::string> split_list(const std::string& text);

// The value of --name, an integer of at least `minimum`; BadOption otherwise.
int int_option(const cxxopts::ParseResult& parsed, const std::string& name, int minimum);
// The value of --name, a duration (positive unless zero_allowed); BadOption otherwise.
std::chrono::nanoseconds duration_option(const cxxopts::ParseResult& parsed, const std::string& name,
                                         bool zero_allowed);

// Parses argv with `options` and hands the result to `read`. --help instead sets help_text (the options' help,
// then help_tail); an argument that no option takes is an error. Returns the error, empty if none: whatever cxxopts
// or `read` throws (BadOption), as one line for stderr that starts with "program: ".
std::string parse_options(const char* program, cxxopts::Options& options, const char* help_tail, int argc,
                          const char* const* argv, std::string& help_text,
                          const std::function<void(const cxxopts::ParseResult&)>& read);

}  // namespace iomodels::loadgen
