#include "client/option_values.hpp"

#include <charconv>
#include <cmath>
#include <cxxopts.hpp>

namespace iomodels::loadgen {
namespace {

// cxxopts names the bad value, not the flag, when a flag is given one ("--http=maybe"): the last "--name=" on the
// command line is that flag ("a flag" when none is).
std::string flag_given_a_value(int argc, const char* const* argv) {
  std::string flag = "a flag";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--") && arg.find('=') != std::string_view::npos) flag = arg.substr(0, arg.find('='));
  }
  return flag;
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    double ns;
  };
  // Longer suffixes first, so that "ms" is not read as "m" followed by garbage.
  constexpr Unit kUnits[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  double scale = 1e9;
  for (const Unit& unit : kUnits) {
    if (text.ends_with(unit.suffix)) {
      text.remove_suffix(unit.suffix.size());
      scale = unit.ns;
      break;
    }
  }
  const auto value = parse_number(text);
  if (!value || *value < 0 || *value * scale > 1e18) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<long long>(std::llround(*value * scale)));
}

std::optional<std::size_t> parse_size(std::string_view text) {
  std::size_t scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k': case 'K': scale = 1024; break;
      case 'm': case 'M': scale = 1024 * 1024; break;
      default: break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value > (1ULL << 40) / scale) {
    return std::nullopt;
  }
  return value * scale;
}

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

bool parse_int(std::string_view text, int& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t begin = 0;
  for (;;) {
    const auto comma = text.find(',', begin);
    items.push_back(text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin));
    if (comma == std::string::npos) return items;
    begin = comma + 1;
  }
}

int int_option(const cxxopts::ParseResult& parsed, const std::string& name, int minimum) {
  const std::string text = parsed[name].as<std::string>();
  int value = 0;
  if (!parse_int(text, value) || value < minimum) {
    throw BadOption{"--" + name + ": '" + text + "' is not an integer of at least " + std::to_string(minimum)};
  }
  return value;
}

std::chrono::nanoseconds duration_option(const cxxopts::ParseResult& parsed, const std::string& name,
                                         bool zero_allowed) {
  const std::string text = parsed[name].as<std::string>();
  const auto value = parse_duration(text);
  if (!value || (!zero_allowed && value->count() == 0)) {
    throw BadOption{"--" + name + ": '" + text + "' is not a " + (zero_allowed ? "" : "positive ") +
                    "duration (e.g. 500ms, 10s, 2m)"};
  }
  return *value;
}

std::string parse_options(const char* program, cxxopts::Options& options, const char* help_tail, int argc,
                          const char* const* argv, std::string& help_text,
                          const std::function<void(const cxxopts::ParseResult&)>& read) {
  const std::string prefix = std::string(program) + ": ";
  try {
    const cxxopts::ParseResult parsed = options.parse(argc, argv);
    if (parsed.count("help")) {
      help_text = options.help() + help_tail;
      return {};
    }
    if (!parsed.unmatched().empty()) throw BadOption{"unexpected argument '" + parsed.unmatched().front() + "'"};
    read(parsed);
    return {};
  } catch (const BadOption& bad) {
    return prefix + bad.message;
  } catch (const cxxopts::exceptions::incorrect_argument_type& bad) {
    // Only a flag given a value ("--http=maybe") gets here; cxxopts names the value, not the flag.
    return prefix + flag_given_a_value(argc, argv) + ": " + bad.what() + " (flags take no value)";
  } catch (const cxxopts::exceptions::exception& bad) {
    return prefix + bad.what();
  }
}

}  // namespace iomodels::loadgen
