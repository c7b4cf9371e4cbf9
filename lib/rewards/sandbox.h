// Running untrusted programs (a model's code) so that they cannot hurt the machine.
//
//   Sandbox sandbox(SandboxLimits{});
//   SandboxRun run = sandbox.Run({"/usr/bin/python3", "-I", "main.py"}, "1 2\n", scratch_dir);
//   if (run.ok()) use(run.stdout_text); else log(run.reason);
//
// Each run, in layers (each one the kernel allows; Probe() says which):
//  - its own session and process group (setsid), and its own PID namespace whose init (a
//    small process of ours, the program's parent) exits when the program does, so the
//    kernel kills every process the program left behind, even one that escaped into a new
//    session;
//  - a new network namespace: no interface but a loopback that is down, so no connection
//    reaches the host's ports;
//  - a new mount namespace in which every mount is read-only except the scratch directory;
//  - a user namespace when not root; when root, the program runs as an unprivileged uid of
//    its own (one per ScratchDir, from 61000-65095), so per-user limits such as the
//    process count are per sandbox and one fork bomb cannot starve the others;
//  - rlimits: CPU seconds, address space, file size, open files, processes; no core files;
//  - a wall deadline, after which the whole PID namespace is killed with SIGKILL;
//  - stdout and stderr capped (the program is killed when it prints more);
//  - a clean environment (PATH, HOME = the scratch directory, LANG).
// The scratch directory is the caller's (ScratchDir makes and removes one).
//
// Thread-safety: Run may be called from several threads at once.
#ifndef R1RL_LIB_REWARDS_SANDBOX_H_
#define R1RL_LIB_REWARDS_SANDBOX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::reward {

struct SandboxLimits {
  double cpu_seconds = 2.0;
  double wall_seconds = 5.0;
  uint64_t address_space_bytes = 1ull << 30;
  uint64_t file_size_bytes = 16ull << 20;
  uint64_t open_files = 64;
  uint64_t processes = 64;
  uint64_t output_bytes = 1ull << 20;  // stdout and stderr, each
};

struct SandboxRun {
  int exit_code = -1;      // when it exited
  int signal = 0;          // when a signal ended it
  bool timed_out = false;  // killed at the wall deadline
  bool output_capped = false;
  double wall_seconds = 0.0;
  std::string stdout_text, stderr_text;
  std::string reason;  // why it did not succeed ("exit code 1", "killed by SIGKILL", …)
  uint32_t protections_bits = 0;  // what this run got (see Sandbox::Protections)
  bool ok() const { return exit_code == 0 && !timed_out && !output_capped && signal == 0; }
};

// Which protections this machine gives (probed once, by running a sandboxed `true`).
struct SandboxProtections {
  bool pid_namespace = false;
  bool network_namespace = false;
  bool read_only_filesystem = false;  // mount namespace, everything but the scratch dir read-only
  bool user_namespace = false;
  bool unprivileged_uid = false;  // a uid of its own (root) or a user namespace
  std::string Describe() const;   // "pid, network, read-only fs, …; missing: …"
};

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
// As root it is handed to a fresh sandbox uid, which programs run in it then use.
class ScratchDir {
 public:
  static absl::StatusOr<ScratchDir> Create();
  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir();
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

class Sandbox {
 public:
  explicit Sandbox(SandboxLimits limits) : limits_(limits) {}

  // Runs argv (argv[0] an absolute path) in `scratch_dir` with `stdin_text` as its input.
  SandboxRun Run(const std::vector<std::string>& argv, const std::string& stdin_text,
                 const std::string& scratch_dir) const;

  const SandboxLimits& limits() const { return limits_; }

  // What this machine's kernel allows, probed once per process.
  static const SandboxProtections& Protections();

 private:
  SandboxLimits limits_;
};

}  // namespace r1rl::reward

#endif  // R1RL_LIB_REWARDS_SANDBOX_H_
