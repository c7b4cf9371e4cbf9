#include "lib/rewards/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace r1rl::reward {
namespace {

constexpr uid_t kNobody = 65534;
// As root, each scratch directory (and the programs run in it) gets a uid of its own from
// this range, so per-user limits (RLIMIT_NPROC) are per sandbox: one program's fork bomb
// cannot starve another sandbox of processes.
constexpr uid_t kSandboxUidBase = 61000;
constexpr uid_t kSandboxUids = 4096;
std::atomic<uint32_t> next_sandbox_uid{0};

// Bits the setup process reports back.
enum Bit : uint32_t { kPid = 1, kNet = 2, kReadOnly = 4, kUser = 8, kUnprivileged = 16 };

struct Report {
  pid_t program = -1;  // the program's pid, as the grader sees it
  uint32_t bits = 0;
  int wait_status = 0;
  bool have_pid = false, have_status = false;
};

bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool WriteFile(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = WriteAll(fd, text.data(), text.size());
  ::close(fd);
  return ok;
}

// "\040" in mountinfo is a space.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// In a fresh mount namespace: every mount read-only except `scratch`. True when "/" is.
bool MakeFilesystemReadOnly(const std::string& scratch) {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  if (::mount(scratch.c_str(), scratch.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return false;
  std::ifstream info("/proc/self/mountinfo");
  std::string line;
  bool root_done = false;
  while (std::getline(info, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    mount_point = Unescape(mount_point);
    if (mount_point == scratch) continue;
    struct statvfs st;
    if (::statvfs(mount_point.c_str(), &st) != 0) continue;
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
    if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    const bool ok = ::mount(nullptr, mount_point.c_str(), nullptr, flags, nullptr) == 0;
    if (mount_point == "/") root_done = ok;
  }
  return root_done;
}

void SetLimit(int resource, uint64_t value) {
  rlimit rl{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  ::setrlimit(resource, &rl);
}

// The program's process: fds, directory, limits, identity, then exec. Never returns.
[[noreturn]] void ExecProgram(const std::vector<std::string>& argv, const std::string& scratch,
                              const SandboxLimits& limits, int in, int out, int err, uid_t run_as) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  for (int fd = 3; fd < 1024; ++fd) ::close(fd);
  if (::chdir(scratch.c_str()) != 0) _exit(126);
  // CPU: SIGXCPU at the soft limit (a clear reason), SIGKILL a second later.
  const rlim_t cpu = static_cast<rlim_t>(std::ceil(limits.cpu_seconds));
  rlimit cpu_limit{cpu, cpu + 1};
  ::setrlimit(RLIMIT_CPU, &cpu_limit);
  SetLimit(RLIMIT_AS, limits.address_space_bytes);
  SetLimit(RLIMIT_FSIZE, limits.file_size_bytes);
  SetLimit(RLIMIT_NOFILE, limits.open_files);
  SetLimit(RLIMIT_NPROC, limits.processes);
  SetLimit(RLIMIT_CORE, 0);
  if (run_as != 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(run_as) != 0 || ::setuid(run_as) != 0) _exit(126);
  }
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string home = "HOME=" + scratch, tmp = "TMPDIR=" + scratch;
  char* env[] = {const_cast<char*>("PATH=/usr/local/bin:/usr/bin:/bin"),
                 const_cast<char*>(home.c_str()), const_cast<char*>(tmp.c_str()),
                 const_cast<char*>("LANG=C.UTF-8"), nullptr};
  ::execve(args[0], args.data(), env);
  const std::string msg =
      absl::StrCat("sandbox: cannot run ", argv[0], ": ", strerror(errno), "\n");
  WriteAll(2, msg.data(), msg.size());
  _exit(127);
}

void WriteHeader(int report, pid_t program, uint32_t bits) {
  char rec[9] = {'H'};
  const int32_t pid = static_cast<int32_t>(program);
  memcpy(rec + 1, &pid, 4);
  memcpy(rec + 5, &bits, 4);
  WriteAll(report, rec, sizeof(rec));
}

void WriteStatus(int report, int status) {
  char rec[5] = {'S'};
  memcpy(rec + 1, &status, 4);
  WriteAll(report, rec, sizeof(rec));
}

// PID 1 of the sandbox's PID namespace: runs the program as its child (so the program
// keeps ordinary signal semantics: SIGXCPU and SIGSEGV are not ignored as they are for an
// init), reaps whatever else dies, reports the program's status and exits, which makes the
// kernel kill every process left in the namespace. Never returns.
[[noreturn]] void Init(const std::vector<std::string>& argv, const std::string& scratch,
                       const SandboxLimits& limits, int in, int out, int err, int report,
                       uid_t run_as) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const pid_t program = ::fork();
  if (program == 0) {
    ::close(report);
    ExecProgram(argv, scratch, limits, in, out, err, run_as);
  }
  ::close(in);
  ::close(out);
  ::close(err);
  int status = 127 << 8;
  while (program > 0) {
    int st = 0;
    const pid_t done = ::waitpid(-1, &st, 0);
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) break;
    if (done == program) {
      status = st;
      break;
    }
  }
  WriteStatus(report, status);
  _exit(0);
}

// The setup process: new session, namespaces, read-only mounts, then the program as its
// child (PID 1 of the new PID namespace). Reports the program's pid and the protections,
// then the program's wait status. Never returns.
[[noreturn]] void SetUpAndRun(const std::vector<std::string>& argv, const std::string& scratch,
                              const SandboxLimits& limits, int in, int out, int err, int report) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::setsid();
  uint32_t bits = 0;
  const bool root = ::geteuid() == 0;
  // As root, the program runs as the scratch directory's owner (ScratchDir gave it a uid of
  // its own), or as nobody for a directory root owns.
  uid_t run_as = 0;
  if (root) {
    struct stat st {};
    run_as = ::stat(scratch.c_str(), &st) == 0 && st.st_uid != 0 ? st.st_uid : kNobody;
  }
  if (root) {
    if (::unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID) == 0) {
      bits |= kPid | kNet;
      if (MakeFilesystemReadOnly(scratch)) bits |= kReadOnly;
    } else {
      if (::unshare(CLONE_NEWNET) == 0) bits |= kNet;
      if (::unshare(CLONE_NEWPID) == 0) bits |= kPid;
      if (::unshare(CLONE_NEWNS) == 0 && MakeFilesystemReadOnly(scratch)) bits |= kReadOnly;
    }
    bits |= kUnprivileged;
  } else {
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID) == 0) {
      bits |= kUser | kPid | kNet | kUnprivileged;
      WriteFile("/proc/self/setgroups", "deny");
      WriteFile("/proc/self/uid_map", absl::StrCat("0 ", uid, " 1"));
      WriteFile("/proc/self/gid_map", absl::StrCat("0 ", gid, " 1"));
      if (MakeFilesystemReadOnly(scratch)) bits |= kReadOnly;
    }
  }
  const bool pid_namespace = bits & kPid;
  const pid_t program = ::fork();
  if (program == 0) {
    if (pid_namespace) Init(argv, scratch, limits, in, out, err, report, run_as);
    ExecProgram(argv, scratch, limits, in, out, err, run_as);
  }
  ::close(in);
  ::close(out);
  ::close(err);
  WriteHeader(report, program, bits);
  int status = 127 << 8;
  if (program > 0) {
    while (::waitpid(program, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!pid_namespace || program <= 0) WriteStatus(report, status);  // else Init reported it
  _exit(0);
}

std::string SignalName(int sig) {
  switch (sig) {
    case SIGKILL:
      return "SIGKILL";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGXCPU:
      return "SIGXCPU";
    case SIGXFSZ:
      return "SIGXFSZ";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    default:
      return absl::StrCat("signal ", sig);
  }
}

}  // namespace

std::string SandboxProtections::Describe() const {
  std::vector<std::string> have, missing;
  auto add = [&](bool on, const char* name) { (on ? have : missing).push_back(name); };
  add(pid_namespace, "pid namespace");
  add(network_namespace, "network namespace (no network)");
  add(read_only_filesystem, "read-only filesystem outside the scratch directory");
  add(unprivileged_uid,
      user_namespace ? "user namespace" : "an unprivileged uid per scratch directory");
  std::string out = "protections: rlimits, wall deadline, output cap, own session";
  for (const auto& h : have) absl::StrAppend(&out, ", ", h);
  if (!missing.empty()) {
    absl::StrAppend(&out, "; missing:");
    for (const auto& m : missing) absl::StrAppend(&out, " ", m, ";");
  }
  return out;
}

absl::StatusOr<ScratchDir> ScratchDir::Create() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr && *base ? base : "/tmp", "/r1rl-sandbox-XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a scratch directory ", tmpl, ": ", strerror(errno)));
  }
  const uid_t uid = kSandboxUidBase + next_sandbox_uid.fetch_add(1) % kSandboxUids;
  if (::geteuid() == 0 && ::chown(tmpl.c_str(), uid, uid) != 0) {
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
    return absl::InternalError(
        absl::StrCat("cannot hand ", tmpl, " to uid ", uid, ": ", strerror(errno)));
  }
  return ScratchDir(tmpl);
}

ScratchDir::~ScratchDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

SandboxRun Sandbox::Run(const std::vector<std::string>& argv, const std::string& stdin_text,
                        const std::string& scratch_dir) const {
  SandboxRun run;
  const auto start = std::chrono::steady_clock::now();
  int in[2], out[2], err[2], report[2];
  if (argv.empty() || ::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
      ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    run.reason = argv.empty() ? "no program to run" : absl::StrCat("pipe: ", strerror(errno));
    return run;
  }
  const pid_t setup = ::fork();
  if (setup == 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    ::close(report[0]);
    SetUpAndRun(argv, scratch_dir, limits_, in[0], out[1], err[1], report[1]);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::close(report[1]);
  if (setup < 0) {
    for (int fd : {in[1], out[0], err[0], report[0]}) ::close(fd);
    run.reason = absl::StrCat("fork: ", strerror(errno));
    return run;
  }
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  Report rep;
  std::string report_bytes;
  size_t stdin_done = 0;
  int stdin_fd = in[1];
  if (stdin_text.empty()) {
    ::close(stdin_fd);
    stdin_fd = -1;
  }
  bool out_open = true, err_open = true, report_open = true, killed = false;
  const auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(limits_.wall_seconds));
  auto kill_all = [&] {
    if (killed) return;
    killed = true;
    if (rep.have_pid && rep.program > 0)
      ::kill(rep.program, SIGKILL);  // PID 1: takes the namespace
    ::kill(-setup, SIGKILL);         // the session's group
  };
  std::chrono::steady_clock::time_point report_closed_at{};
  char buf[65536];
  while (out_open || err_open || report_open) {
    const auto now = std::chrono::steady_clock::now();
    if (!killed && now >= deadline) {
      run.timed_out = true;
      kill_all();
    }
    // Once the setup process is gone, give the pipes a moment, then stop waiting for them
    // (a process that escaped without a PID namespace must not hold the grader).
    if (!report_open && now - report_closed_at > std::chrono::milliseconds(200)) break;
    std::vector<pollfd> fds;
    if (out_open) fds.push_back({out[0], POLLIN, 0});
    if (err_open) fds.push_back({err[0], POLLIN, 0});
    if (report_open) fds.push_back({report[0], POLLIN, 0});
    if (stdin_fd >= 0) fds.push_back({stdin_fd, POLLOUT, 0});
    const int wait_ms = static_cast<int>(std::clamp<int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count(), 1, 50));
    if (::poll(fds.data(), fds.size(), killed ? 50 : wait_ms) < 0 && errno != EINTR) break;
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == stdin_fd) {
        const ssize_t w =
            ::write(stdin_fd, stdin_text.data() + stdin_done, stdin_text.size() - stdin_done);
        if (w > 0) stdin_done += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
          stdin_done = stdin_text.size();  // EPIPE: it closed
        if (stdin_done >= stdin_text.size()) {
          ::close(stdin_fd);
          stdin_fd = -1;
        }
        continue;
      }
      const ssize_t r = ::read(p.fd, buf, sizeof(buf));
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) {
        if (p.fd == out[0]) out_open = false;
        if (p.fd == err[0]) err_open = false;
        if (p.fd == report[0]) {
          report_open = false;
          report_closed_at = std::chrono::steady_clock::now();
        }
        continue;
      }
      if (p.fd == report[0]) {
        report_bytes.append(buf, static_cast<size_t>(r));
        // Records: 'H' pid bits (9 bytes), 'S' wait status (5 bytes), in any order.
        while (!report_bytes.empty()) {
          const size_t need = report_bytes[0] == 'H' ? 9 : 5;
          if (report_bytes.size() < need) break;
          if (report_bytes[0] == 'H') {
            int32_t pid;
            memcpy(&pid, report_bytes.data() + 1, 4);
            memcpy(&rep.bits, report_bytes.data() + 5, 4);
            rep.program = pid;
            rep.have_pid = true;
            if (killed) ::kill(rep.program, SIGKILL);
          } else if (report_bytes[0] == 'S') {
            memcpy(&rep.wait_status, report_bytes.data() + 1, 4);
            rep.have_status = true;
          }
          report_bytes.erase(0, need);
        }
        continue;
      }
      std::string& dest = p.fd == out[0] ? run.stdout_text : run.stderr_text;
      const size_t room =
          limits_.output_bytes > dest.size() ? limits_.output_bytes - dest.size() : 0;
      dest.append(buf, std::min(room, static_cast<size_t>(r)));
      if (static_cast<size_t>(r) > room) {
        run.output_capped = true;
        kill_all();
      }
    }
  }
  kill_all();  // whatever is left (nothing, on a normal exit)
  for (int fd : {stdin_fd, out[0], err[0], report[0]}) {
    if (fd >= 0) ::close(fd);
  }
  while (::waitpid(setup, nullptr, 0) < 0 && errno == EINTR) {
  }
  run.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.protections_bits = rep.bits;
  if (rep.have_status) {
    if (WIFEXITED(rep.wait_status)) run.exit_code = WEXITSTATUS(rep.wait_status);
    if (WIFSIGNALED(rep.wait_status)) run.signal = WTERMSIG(rep.wait_status);
  }
  if (run.timed_out) {
    run.reason = absl::StrCat("wall time limit (", limits_.wall_seconds, " s) exceeded");
  } else if (run.output_capped) {
    run.reason = absl::StrCat("output exceeded ", limits_.output_bytes, " bytes");
  } else if (run.signal == SIGXCPU) {
    run.reason = absl::StrCat("CPU time limit (", limits_.cpu_seconds, " s) exceeded");
  } else if (run.signal == SIGXFSZ) {
    run.reason = absl::StrCat("file size limit (", limits_.file_size_bytes, " bytes) exceeded");
  } else if (run.signal != 0) {
    run.reason = absl::StrCat("killed by ", SignalName(run.signal));
  } else if (!rep.have_status) {
    run.reason = "the sandbox's setup process died";
  } else if (run.exit_code != 0) {
    std::string first = run.stderr_text.substr(0, run.stderr_text.find('\n'));
    // The last line of a Python traceback names the error.
    if (size_t e = run.stderr_text.find_last_not_of('\n'); e != std::string::npos) {
      size_t b = run.stderr_text.rfind('\n', e);
      first = run.stderr_text.substr(b == std::string::npos ? 0 : b + 1,
                                     e - (b == std::string::npos ? 0 : b + 1) + 1);
    }
    if (first.size() > 200) first = first.substr(0, 200);
    run.reason = absl::StrCat("exit code ", run.exit_code, first.empty() ? "" : ": ", first);
  }
  return run;
}

const SandboxProtections& Sandbox::Protections() {
  static const SandboxProtections* p = [] {
    auto* out = new SandboxProtections();
    auto scratch = ScratchDir::Create();
    if (!scratch.ok()) return out;
    Sandbox box(SandboxLimits{});
    SandboxRun run = box.Run({"/bin/true"}, "", scratch->path());
    out->pid_namespace = run.protections_bits & kPid;
    out->network_namespace = run.protections_bits & kNet;
    out->read_only_filesystem = run.protections_bits & kReadOnly;
    out->user_namespace = run.protections_bits & kUser;
    out->unprivileged_uid = run.protections_bits & kUnprivileged;
    return out;
  }();
  return *p;
}

}  // namespace r1rl::reward
