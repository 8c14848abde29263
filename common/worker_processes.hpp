// N worker processes under one supervising parent: nginx's master and workers. Used by `epoll --processes N`, whose
// workers each own a SO_REUSEPORT listener and an event loop, so that N processes hold N times the connections one
// process's descriptor limit allows.
#pragma once
#include <functional>

namespace iomodels {

// Forks `count` workers; worker i runs worker(i) and exits with its return value. The parent only supervises: on
// SIGINT or SIGTERM it sends SIGTERM to every worker, reaps them (SIGKILL after 2 s) and returns 0; a worker that
// dies of a signal or exits non-zero is logged and started again (worker(i) in a new process), as nginx's master
// does, unless that happens again within a second (then every worker is stopped and it returns 1). A worker
// that exits 0 by itself is not replaced; once none is left it returns 0. Expects init_process_signals() to have
// blocked SIGINT, SIGTERM and SIGCHLD (the workers inherit the mask, so their signalfds see SIGTERM). Workers get
// PR_SET_PDEATHSIG SIGTERM, so a parent killed outright does not leave them serving.
int run_worker_processes(int count, const std::function<int(int index)>& worker);

}  // namespace iomodels
