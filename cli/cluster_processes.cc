#include "cli/cluster_processes.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"

namespace r1rl::cli {

absl::StatusOr<nlohmann::ordered_json> ReadClusterTable(const std::string& name) {
  const std::string path = absl::StrCat("runs/", name, "/cluster.json");
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no cluster named ", name, " (", path, ")"));
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("services")) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a cluster table"));
  }
  return j;
}

namespace {

// Binds 127.0.0.1:port (0: any) and returns the port bound, or -1; the socket is released.
int TryBindLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof(a);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(fd);
  return ok ? static_cast<int>(ntohs(a.sin_port)) : -1;
}

}  // namespace

absl::StatusOr<int> FreeLoopbackPort() {
  // Below the kernel's ephemeral range: a port handed out by bind(0) or taken as the local end
  // of an outgoing connection is drawn from that range, so one picked there could be taken by
  // any process before our service binds it ("Address already in use" in parallel tests).
  int low = 32768;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) range >> low;
  static std::mt19937 rng(std::random_device{}());
  if (low > 10001) {
    std::uniform_int_distribution<int> pick(10000, low - 1);
    for (int i = 0; i < 100; ++i) {
      if (const int port = TryBindLoopback(pick(rng)); port > 0) return port;
    }
  }
  if (const int port = TryBindLoopback(0); port > 0) return port;
  return absl::UnavailableError("no free port on 127.0.0.1");
}

std::string SelfDir() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).parent_path().string();
}

absl::StatusOr<pid_t> SpawnDetached(const std::vector<std::string>& argv,
                                    const std::string& log_path) {
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return absl::InternalError(absl::StrCat("cannot write ", log_path));
  const pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    setsid();
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(log, 1);
    dup2(log, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    dprintf(2, "cannot run %s\n", args[0]);
    _exit(127);
  }
  close(log);
  return pid;
}

bool Alive(pid_t pid) {
  if (pid <= 0) return false;
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == pid) return false;  // our child, just reaped
  if (kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

bool Stop(pid_t pid, std::chrono::milliseconds grace) {
  if (!Alive(pid)) return false;
  kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!Alive(pid)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  for (int i = 0; i < 100 && Alive(pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return true;
}

}  // namespace r1rl::cli
