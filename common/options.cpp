#include "common/options.hpp"

#include <cxxopts.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string_view>

#include "common/errors.hpp"

namespace iomodels {
namespace {

// docs/PROTOCOL.md: a bad option or value prints one line on stderr naming it and exits 2.
[[noreturn]] void usage_error(const std::string& program, const std::string& what) {
  fail(program + ": " + what + " (see --help)", 2);
}

// cxxopts quotes names with typographic quotes; the line we print uses plain ones.
std::string plain_quotes(std::string text) {
  for (std::string_view curly : {"\u2018", "\u2019"}) {
    for (auto at = text.find(curly); at != std::string::npos; at = text.find(curly)) text.replace(at, curly.size(), "'");
  }
  return text;
}

std::optional<long long> parse_integer(const std::string& text) {
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

long long integer_option(const cxxopts::ParseResult& parsed, const std::string& name, long long low, long long high,
                         const std::string& program) {
  const std::string text = parsed[name].as<std::string>();
  auto value = parse_integer(text);
  if (!value || *value < low || *value > high) {
    usage_error(program, "invalid value for --" + name + ": '" + text + "' (expected an integer from " +
                             std::to_string(low) + " to " + std::to_string(high) + ")");
  }
  return *value;
}

std::string help_text(cxxopts::Options& options, const ModelInfo& model) {
  std::string text = options.help();
  if (!model.limit.empty()) text += "Inherent limit: " + model.limit + "\n";
  text +=
      "\nProtocol: raw echo (RFC 862) or HTTP/1.x echo, chosen per connection by --mode.\n"
      "On start it prints 'listening on HOST:PORT' to stdout; SIGINT or SIGTERM stops it.\n";
  return text;
}

}  // namespace

bool ServerOptions::flag(const std::string& name) const {
  return std::find(flags_set.begin(), flags_set.end(), name) != flags_set.end();
}

ServerOptions parse_server_options(int argc, char** argv, const ModelInfo& model) {
  set_log_prefix(model.name);
  ServerOptions result;
  cxxopts::Options options(model.name, model.name + ": " + model.summary);
  options.custom_help("[options]");
  options.add_options()
      ("host", "address to listen on (an IPv6 literal such as ::1 works too)",
       cxxopts::value<std::string>()->default_value(result.host))
      ("port", "TCP port; 0 picks a free one", cxxopts::value<std::string>()->default_value(std::to_string(kDefaultPort)))
      ("mode", "auto (the first bytes choose HTTP or raw echo), echo, or http",
       cxxopts::value<std::string>()->default_value("auto"))
      ("max-body", "largest HTTP request body in bytes; larger gets 413",
       cxxopts::value<std::string>()->default_value(std::to_string(kDefaultMaxBody)))
      ("max-conns", "connections over this are accepted and closed at once (0: no limit)",
       cxxopts::value<std::string>()->default_value("0"));
  if (model.default_threads > 0) {
    options.add_options()("threads", model.threads_help,
                          cxxopts::value<std::string>()->default_value(std::to_string(model.default_threads)));
  }
  if (!model.processes_help.empty()) {
    options.add_options()("processes", model.processes_help, cxxopts::value<std::string>()->default_value("1"));
  }
  for (const auto& flag : model.flags) options.add_options()(flag.name, flag.help);
  options.add_options()("help", "print this help and exit");

  cxxopts::ParseResult parsed;
  try {
    parsed = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::no_such_option& error) {
    // --threads is a known option to some models; say so rather than "does not exist".
    std::string text = plain_quotes(error.what());
    if (text.find("'threads'") != std::string::npos) {
      usage_error(model.name, "option '--threads' is not supported: this model has no worker count");
    }
    usage_error(model.name, text);
  } catch (const cxxopts::exceptions::exception& error) {
    usage_error(model.name, plain_quotes(error.what()));
  }
  if (parsed.count("help")) {
    std::fputs(help_text(options, model).c_str(), stdout);
    std::exit(0);
  }
  if (!parsed.unmatched().empty()) usage_error(model.name, "unexpected argument '" + parsed.unmatched().front() + "'");

  result.host = parsed["host"].as<std::string>();
  if (result.host.empty()) usage_error(model.name, "invalid value for --host: empty");
  result.port = static_cast<int>(integer_option(parsed, "port", 0, 65535, model.name));
  const std::string mode = parsed["mode"].as<std::string>();
  if (mode == "auto") {
    result.mode = Mode::kAuto;
  } else if (mode == "echo") {
    result.mode = Mode::kEcho;
  } else if (mode == "http") {
    result.mode = Mode::kHttp;
  } else {
    usage_error(model.name, "invalid value for --mode: '" + mode + "' (expected auto, echo or http)");
  }
  result.max_body = static_cast<std::size_t>(integer_option(parsed, "max-body", 0, 1LL << 40, model.name));
  result.max_conns = static_cast<std::size_t>(integer_option(parsed, "max-conns", 0, 100'000'000, model.name));
  if (model.default_threads > 0) result.threads = static_cast<int>(integer_option(parsed, "threads", 1, 1024, model.name));
  if (!model.processes_help.empty()) {
    result.processes = static_cast<int>(integer_option(parsed, "processes", 1, 256, model.name));
  }
  for (const auto& flag : model.flags) {
    if (parsed.count(flag.name)) result.flags_set.push_back(flag.name);
  }
  return result;
}

}  // namespace iomodels
