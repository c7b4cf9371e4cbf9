// For tests that run c10d ranks as real processes (data_parallel_test,
// collective_weights_test): a free loopback port for the rendezvous, and this test binary
// started again as one rank, running only `gtest_filter` with variables added to its
// environment (OMP_NUM_THREADS=1 among them: the ranks share the machine's cores).
//
//   const int port = FreeLoopbackPort();
//   pid_t pid = SpawnThisTest("Child.Rank", {"MY_TEST_RANK=1", "MY_TEST_PORT=" + ...});
#ifndef R1RL_LIB_DISTRIBUTED_RANK_PROCESS_TEST_UTIL_H_
#define R1RL_LIB_DISTRIBUTED_RANK_PROCESS_TEST_UTIL_H_

#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

extern char** environ;

namespace r1rl::distributed {

// A loopback port nobody listened on a moment ago.
inline int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// This binary again with --gtest_filter=`gtest_filter` and `vars` ("NAME=value") added to the
// environment; its pid (the caller waits for it).
inline pid_t SpawnThisTest(const std::string& gtest_filter, const std::vector<std::string>& vars) {
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), vars.begin(), vars.end());
  env_s.push_back("OMP_NUM_THREADS=1");
  std::vector<char*> env;
  for (std::string& s : env_s) env.push_back(s.data());
  env.push_back(nullptr);
  std::string exe = "/proc/self/exe", filter = "--gtest_filter=" + gtest_filter;
  char* argv[] = {exe.data(), filter.data(), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, env.data()), 0);
  return pid;
}

}  // namespace r1rl::distributed

#endif  // R1RL_LIB_DISTRIBUTED_RANK_PROCESS_TEST_UTIL_H_
