// The test binary's main: every tests/*.cpp links into this one GoogleTest binary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "harness/server_process.hpp"

namespace {

// Servers run in process groups of their own, out of reach of a terminal's Ctrl-C and of a runner's timeout: on
// those signals, kill them first, then die of the signal as before.
void on_fatal_signal(int signo) {
  iomodels::kill_every_server_group();
  ::signal(signo, SIG_DFL);
  ::raise(signo);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleMock(&argc, argv);
  // A test that writes to a socket its peer has closed gets EPIPE from send(2), not a fatal SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  for (int signo : {SIGINT, SIGTERM, SIGHUP}) ::signal(signo, on_fatal_signal);
  // Children a server leaves behind are re-parented to this process, so the server tests can see and reap them
  // rather than lose them to init (see adopt_orphans).
  iomodels::adopt_orphans();
  return RUN_ALL_TESTS();
}
