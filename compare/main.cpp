// bin/compare: runs every echo server of the suite under the same loads and reports, side by side, throughput,
// latency percentiles, server CPU per message, memory, threads and processes. See compare/README.md.
//
//   bin/compare --models epoll,poll --connections 1,50 --duration 2s
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "harness/server_process.hpp"
#include "compare/compare.hpp"

namespace {

// A server runs in a process group of its own, out of reach of the terminal's Ctrl-C: kill every one still
// running (and perf, which has a group of its own too), then die of the signal as before.
void on_fatal_signal(int signo) {
  iomodels::kill_every_server_group();
  ::signal(signo, SIG_DFL);
  ::raise(signo);
}

// The command as a shell would take it back, for report.md.
std::string quote_for_shell(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                              "-_.,/:=+@%") == std::string::npos) {
    return word;
  }
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = iomodels::compare::parse_compare_command_line(argc, argv);
  if (parsed.help) {
    std::cout << parsed.help_text;
    return 0;
  }
  if (!parsed.error.empty()) {
    std::cerr << parsed.error << "\n";
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  for (int signo : {SIGINT, SIGTERM, SIGHUP}) ::signal(signo, on_fatal_signal);
#ifndef __SANITIZE_ADDRESS__
  // A crash of the comparison itself must not leave a server (or perf) running either. Under AddressSanitizer
  // its own handler reports the crash, which matters more there.
  for (int signo : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(signo, on_fatal_signal);
#endif
  // A forking server's children that outlive it come back to us, so they are seen and reaped, not lost to init.
  iomodels::adopt_orphans();

  iomodels::compare::CompareOptions& options = parsed.options;
  for (int i = 0; i < argc; ++i) options.command_line += (i ? " " : "") + quote_for_shell(argv[i]);
  options.progress_in_place = ::isatty(STDERR_FILENO) == 1;
  return iomodels::compare::run_compare(options, std::cout, std::cerr);
}
