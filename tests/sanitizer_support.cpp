#include "tests/sanitizer_support.hpp"

#include <algorithm>
#include <cstdlib>
#include <string_view>

namespace iomodels::test {

bool built_with_sanitizer(const std::string& name) {
  const char* value = std::getenv("IOMODELS_SANITIZER");
  if (value == nullptr) return false;
  std::string_view list(value);
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (list.substr(0, comma) == name) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string sanitizer_skip_reason(const ServerSpec& spec) {
  if (!built_with_sanitizer("thread")) return {};
  if (spec.python) return spec.label + " runs in CPython, which is not built with ThreadSanitizer: skipped under TSan";
  const bool threaded = spec.name == "blocking-threads" || spec.name == "blocking-pool" ||
                        std::find(spec.args.begin(), spec.args.end(), "--threads") != spec.args.end();
  if (threaded) return {};
  if (spec.name == "aio") return "aio's threads are glibc's, which ThreadSanitizer does not instrument: skipped under TSan";
  return spec.label + " runs one thread per process, with nothing to race: skipped under ThreadSanitizer";
}

}  // namespace iomodels::test
