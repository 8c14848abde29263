// `bin/compare --net veth`: the server runs in a network namespace of its own, reached through a veth pair, so
// every message crosses a real (virtual) network device instead of the loopback device.
//
//   root namespace                        namespace imc<pid>-srv
//   loadgen -> imc<pid>h 198.19.X.Y/30 <== veth ==> eth0 198.19.X.Y+1/30 -> server --host 198.19.X.Y+1
//
// The /30 is chosen by pid from the benchmarking range 198.19.0.0/16, so that comparisons running at the same time
// (the test shards) have routes of their own.
// The namespace and the pair are created once per comparison and removed by the destructor (deleting the
// namespace deletes the pair); a comparison that is killed outright leaves them, named with its pid, for
// `ip netns del imc<pid>-srv`.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace iomodels::compare {

class VethPath {
 public:
  // Creates the namespace and the pair. Returns null and sets `error` (the failing command and its message)
  // when they cannot be made: namespaces need root or CAP_SYS_ADMIN.
  static std::unique_ptr<VethPath> create(std::string& error);
  ~VethPath();
  VethPath(const VethPath&) = delete;
  VethPath& operator=(const VethPath&) = delete;

  const std::string& name() const { return name_; }
  const std::string& server_address() const { return server_address_; }
  // The program and arguments that start `path args...` inside the namespace, listening on its address.
  std::vector<std::string> wrap(const std::string& path, const std::vector<std::string>& args) const;
  // One line for the report: what the path is.
  std::string describe() const;

 private:
  VethPath() = default;
  std::string name_;
  std::string host_side_;
  std::string host_address_;
  std::string server_address_;
  bool created_ = false;
};

// For a fatal signal handler (compare/main.cpp), after the servers are killed: drops the namespace of a live
// VethPath with system calls only (umount2 and unlink of /run/netns/NAME, as `ip netns del` does); the kernel then
// deletes the namespace and the pair with it.
void drop_veth_path_on_signal();

}  // namespace iomodels::compare
