#include "compare/netns.hpp"

#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "harness/server_process.hpp"

namespace iomodels::compare {
namespace {

// `ip` with these arguments; empty when it succeeded, else its status and last words.
std::string ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult result = run_command(argv, std::chrono::seconds(10));
  std::string command = "ip";
  for (const std::string& arg : args) command += " " + arg;
  if (!result.started) return command + ": " + result.error;
  if (result.timed_out) return command + ": timed out";
  if (result.wait_status != 0) {
    std::string why = result.err;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return command + ": " + (why.empty() ? "failed" : why);
  }
  return "";
}

// /run/netns/NAME of the live path, for the signal handler: a fixed buffer, since it cannot allocate.
char g_mount[128] = "";

}  // namespace

void drop_veth_path_on_signal() {
  if (g_mount[0] == '\0') return;
  ::umount2(g_mount, MNT_DETACH);
  ::unlink(g_mount);
}

std::unique_ptr<VethPath> VethPath::create(std::string& error) {
  std::unique_ptr<VethPath> path(new VethPath());
  const std::string tag = "imc" + std::to_string(::getpid());
  path->name_ = tag + "-srv";
  path->host_side_ = tag + "h";  // interface names have at most 15 characters
  const int slot = static_cast<int>(::getpid() % 16384);
  const std::string net = "198.19." + std::to_string(slot / 64) + ".";
  path->host_address_ = net + std::to_string(slot % 64 * 4 + 1);
  path->server_address_ = net + std::to_string(slot % 64 * 4 + 2);
  error = ip({"netns", "add", path->name_});
  if (!error.empty()) return nullptr;
  path->created_ = true;
  std::snprintf(g_mount, sizeof g_mount, "/run/netns/%s", path->name_.c_str());
  // Each step needs the one before; the first failure is the one to report, and the destructor undoes it all.
  for (const auto& step : std::vector<std::vector<std::string>>{
           {"link", "add", path->host_side_, "type", "veth", "peer", "name", "eth0", "netns", path->name_},
           {"addr", "add", path->host_address_ + "/30", "dev", path->host_side_},
           {"link", "set", path->host_side_, "up"},
           {"-n", path->name_, "addr", "add", path->server_address_ + "/30", "dev", "eth0"},
           {"-n", path->name_, "link", "set", "eth0", "up"},
           {"-n", path->name_, "link", "set", "lo", "up"}}) {
    error = ip(step);
    if (!error.empty()) return nullptr;
  }
  return path;
}

VethPath::~VethPath() {
  if (!created_) return;
  // Deleting one end of the pair deletes both at once; the namespace's own cleanup runs later in the kernel, and
  // a pair left to it could still hold the name when the next path is made.
  ip({"link", "del", host_side_});
  ip({"netns", "del", name_});
  g_mount[0] = '\0';
}

std::vector<std::string> VethPath::wrap(const std::string& path, const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"netns", "exec", name_, path};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--host", server_address_});
  return argv;
}

std::string VethPath::describe() const {
  return "veth: the server in network namespace " + name_ + " at " + server_address_ +
         ", the load generator in the root namespace at " + host_address_ + ", one veth pair between them";
}

}  // namespace iomodels::compare
