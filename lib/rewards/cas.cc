#include "lib/rewards/cas.h"

#include <ginac/ginac.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <complex>
#include <cstdio>
#include <cstring>
#include <set>

#include "absl/time/clock.h"

namespace r1rl::reward {
namespace {

using GiNaC::ex;

std::set<ex, GiNaC::ex_is_less> Symbols(const ex& e) {
  std::set<ex, GiNaC::ex_is_less> out;
  for (auto it = e.preorder_begin(); it != e.preorder_end(); ++it) {
    if (GiNaC::is_a<GiNaC::symbol>(*it)) out.insert(*it);
  }
  return out;
}

// The value of `e` with each symbol at its point in `at`, or false when not numeric.
bool Evaluate(const ex& e, const GiNaC::exmap& at, std::complex<double>* value) {
  ex v = GiNaC::evalf(e.subs(at));
  if (!GiNaC::is_a<GiNaC::numeric>(v)) return false;
  const GiNaC::numeric n = GiNaC::ex_to<GiNaC::numeric>(v);
  *value = {GiNaC::real(n).to_double(), GiNaC::imag(n).to_double()};
  return std::isfinite(value->real()) && std::isfinite(value->imag());
}

bool Close(std::complex<double> x, std::complex<double> y) {
  return std::abs(x - y) <= 1e-6 * std::max({1.0, std::abs(x), std::abs(y)});
}

// Points at which free symbols are tried: away from 0, 1 and each other.
const double kPoints[][3] = {
    {0.7381, 1.9137, -2.2719}, {1.3171, -0.5153, 3.1923}, {2.4411, 0.3137, 1.1701}};

CasVerdict CompareParsed(CasMode mode, const ex& a, const ex& b) {
  GiNaC::exmap none;
  std::set<ex, GiNaC::ex_is_less> symbols = Symbols(a - b);
  if (mode == CasMode::kExpression) {
    if (GiNaC::normal(GiNaC::expand(a - b)).is_zero()) return CasVerdict::kEqual;
  } else {
    if (a.is_zero() || b.is_zero()) return CasVerdict::kNotEqual;
    ex ratio = GiNaC::normal(a / b);
    if (GiNaC::is_a<GiNaC::numeric>(ratio) && !ratio.is_zero()) {
      if (mode == CasMode::kEquation) return CasVerdict::kEqual;
      const GiNaC::numeric r = GiNaC::ex_to<GiNaC::numeric>(ratio);
      return r.is_real() && r.is_positive() ? CasVerdict::kEqual : CasVerdict::kNotEqual;
    }
  }
  // Numerically, at a few points.
  std::complex<double> first_ratio;
  for (size_t k = 0; k < 3; ++k) {
    GiNaC::exmap at;
    size_t s = 0;
    for (const ex& sym : symbols) {
      at[sym] = kPoints[k][s % 3] + 0.1 * static_cast<double>(s / 3);
      ++s;
    }
    std::complex<double> x, y;
    if (!Evaluate(a, at, &x) || !Evaluate(b, at, &y)) return CasVerdict::kNotEqual;
    if (mode == CasMode::kExpression) {
      if (!Close(x, y)) return CasVerdict::kNotEqual;
    } else {
      if (std::abs(y) < 1e-12) return CasVerdict::kNotEqual;
      const std::complex<double> r = x / y;
      if (k == 0) first_ratio = r;
      if (std::abs(r) < 1e-12 || !Close(r, first_ratio)) return CasVerdict::kNotEqual;
      if (mode == CasMode::kInequality &&
          (r.real() <= 0 || std::abs(r.imag()) > 1e-9 * std::abs(r.real()))) {
        return CasVerdict::kNotEqual;
      }
    }
    if (symbols.empty()) break;
  }
  return CasVerdict::kEqual;
}

bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// A helper may grow by at most kHelperMemory beyond what it inherited at fork (the parent
// may map a lot, e.g. LibTorch), so a blow-up ends in bad_alloc there, not in the OOM killer.
constexpr uint64_t kHelperMemory = 2ull << 30;
void LimitMemory() {
  uint64_t pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  if (pages == 0) return;
  const rlim_t limit = pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) + kHelperMemory;
  rlimit rl{limit, limit};
  ::setrlimit(RLIMIT_AS, &rl);
}

// The helper's loop: frames "<u32 length><mode char><a>\0<b>" in, one verdict byte out.
[[noreturn]] void HelperMain(int fd) {
  while (true) {
    uint32_t len = 0;
    if (!ReadAll(fd, &len, sizeof(len)) || len == 0 || len > (1u << 20)) _exit(0);
    std::string frame(len, '\0');
    if (!ReadAll(fd, frame.data(), len)) _exit(0);
    CasQuery q;
    q.mode = static_cast<CasMode>(frame[0]);
    const size_t nul = frame.find('\0', 1);
    if (nul == std::string::npos) _exit(0);
    q.a = frame.substr(1, nul - 1);
    q.b = frame.substr(nul + 1);
    const char verdict = static_cast<char>(CompareInProcess(q));
    if (!WriteAll(fd, &verdict, 1)) _exit(0);
  }
}

}  // namespace

const char* CasVerdictName(CasVerdict v) {
  switch (v) {
    case CasVerdict::kEqual:
      return "equal";
    case CasVerdict::kNotEqual:
      return "not_equal";
    case CasVerdict::kUnparsable:
      return "unparsable";
    case CasVerdict::kTimeout:
      return "timeout";
    case CasVerdict::kFailed:
      return "failed";
  }
  return "failed";
}

CasVerdict CompareInProcess(const CasQuery& q) {
  try {
    GiNaC::symtab table;
    table["Pi"] = GiNaC::Pi;
    table["I"] = GiNaC::I;
    GiNaC::parser reader(table);
    ex a = reader(q.a);
    ex b = reader(q.b);
    return CompareParsed(q.mode, a, b);
  } catch (const GiNaC::parse_error&) {
    return CasVerdict::kUnparsable;
  } catch (const std::exception&) {
    return CasVerdict::kNotEqual;  // division by zero, domain errors: not shown equal
  }
}

CasHelper::~CasHelper() { Kill(); }

bool CasHelper::Start() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return false;
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(fds[0]);
    LimitMemory();
    HelperMain(fds[1]);
  }
  ::close(fds[1]);
  pid_ = pid;
  fd_ = fds[0];
  return true;
}

void CasHelper::Kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (fd_ >= 0) ::close(fd_);
  pid_ = -1;
  fd_ = -1;
}

CasVerdict CasHelper::Compare(const CasQuery& query, absl::Duration timeout) {
  if (pid_ < 0) {
    if (!Start()) return CasVerdict::kFailed;
    ++restarts_;
  }
  std::string frame(1, static_cast<char>(query.mode));
  frame += query.a;
  frame += '\0';
  frame += query.b;
  const uint32_t len = static_cast<uint32_t>(frame.size());
  if (!WriteAll(fd_, &len, sizeof(len)) || !WriteAll(fd_, frame.data(), frame.size())) {
    Kill();
    return CasVerdict::kFailed;
  }
  const auto deadline = absl::Now() + timeout;
  pollfd p{fd_, POLLIN, 0};
  while (true) {
    const int ms =
        static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    const int r = ::poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      Kill();  // the comparison is still running: the whole helper goes
      return CasVerdict::kTimeout;
    }
    break;
  }
  char verdict = 0;
  if (!ReadAll(fd_, &verdict, 1)) {
    Kill();
    return CasVerdict::kFailed;
  }
  return static_cast<CasVerdict>(verdict);
}

CasPool::CasPool(int workers) {
  for (int i = 0; i < std::max(1, workers); ++i) free_.push_back(std::make_unique<CasHelper>());
}

CasVerdict CasPool::Compare(const CasQuery& query, absl::Duration timeout) {
  std::unique_ptr<CasHelper> helper;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    helper = std::move(free_.back());
    free_.pop_back();
  }
  const CasVerdict v = helper->Compare(query, timeout);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (v == CasVerdict::kTimeout) ++timeouts_;
    free_.push_back(std::move(helper));
  }
  cv_.notify_one();
  return v;
}

int64_t CasPool::timeouts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timeouts_;
}

}  // namespace r1rl::reward
