// blocking: the iterative server. One thread accepts a connection, serves it to the end, then accepts the next.
//
// It demonstrates the plainest IO model there is: accept(2), recv(2) and send(2) each put the one thread to
// sleep until the kernel has something for it, so the code reads top to bottom with no state kept between calls.
// Inherent limit: it serves one client at a time. The kernel completes the handshake of every other client and
// queues it in the listen backlog, so their connect(2) succeeds, but nothing answers them until the client before
// has gone. (--max-conns is therefore never reached here: at most one connection is ever open.)
//
// Try it:  bin/blocking --port 7000 &   nc 127.0.0.1 7000
//          (a second nc in another terminal gets no echo until the first one quits)
#include "blocking/connection.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"

using namespace iomodels;

int main(int argc, char** argv) {
  Server server = start_server(argc, argv,
                               ModelInfo{
                                   .name = "blocking",
                                   .summary = "iterative: accept one connection, serve it to the end, accept the next",
                                   .limit = "serves one client at a time; others wait in the listen backlog",
                               });
  // SIGINT/SIGTERM shut the listener and the connection being served down, so whichever call blocks returns.
  BlockingShutdown shutdown(server.listener.get());

  while (UniqueFd connection = accept_blocking(server.listener.get())) {
    serve_connection(std::move(connection), server.session, shutdown);
  }
  return 0;
}
