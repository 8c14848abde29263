// The connections of a readiness loop (epoll, sigio), indexed by descriptor, and the ready list of those that
// stopped short of EAGAIN and must get another turn without a new notification.
#pragma once
#include <algorithm>
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

namespace iomodels {

// Connection needs `UniqueFd fd` and `bool queued` (in the ready list).
template <class Connection>
class ConnectionTable {
 public:
  // nullptr for a descriptor that is not an open connection (a stale notification, a closed socket).
  Connection* find(int fd) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= table_.size() || !table_[fd]) return nullptr;
    return &*table_[fd];
  }

  // The kernel hands out the lowest free descriptor, so a table indexed by it stays dense.
  Connection& add(Connection connection) {
    const auto fd = static_cast<std::size_t>(connection.fd.get());
    if (table_.size() <= fd) table_.resize(std::max(fd + 1, 2 * table_.size()));
    ++open_;
    return table_[fd].emplace(std::move(connection));
  }

  // Closes the connection (its UniqueFd); a queued entry for it is skipped when the ready list is served.
  void remove(int fd) {
    table_[fd].reset();
    --open_;
  }

  std::size_t size() const { return open_; }

  template <class Visit>
  void for_each(Visit visit) {
    for (auto& slot : table_) {
      if (slot) visit(*slot);
    }
  }

  // Gives the connection a turn next round.
  void queue(Connection& connection) {
    if (connection.queued) return;
    connection.queued = true;
    ready_.push_back(connection.fd.get());
  }

  bool has_queued() const { return !ready_.empty(); }

  // Serves every connection queued before this call; serving may queue again, for the round after.
  template <class Serve>
  void serve_queued(Serve serve) {
    std::swap(ready_, serving_);
    for (int fd : serving_) {
      Connection* connection = find(fd);
      // A connection closed since it was queued is gone; a new one on the same descriptor was never queued.
      if (connection == nullptr || !connection->queued) continue;
      connection->queued = false;
      serve(*connection);
    }
    serving_.clear();
  }

 private:
  std::vector<std::optional<Connection>> table_;
  std::size_t open_ = 0;
  std::vector<int> ready_;    // connections with work left, served next round
  std::vector<int> serving_;  // the ready list being served (swapped, so serving may queue again)
};

}  // namespace iomodels
