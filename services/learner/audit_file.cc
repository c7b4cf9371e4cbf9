#include "services/learner/audit_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace r1rl::learner {

AuditFile::AuditFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  struct stat st {};
  empty_at_open_ = fd_ < 0 || ::fstat(fd_, &st) != 0 || st.st_size == 0;
}

AuditFile::~AuditFile() {
  if (fd_ >= 0) {
    Append("");  // a last try for the lines still waiting (an empty line adds nothing)
    ::close(fd_);
  }
}

AuditFile::AuditFile(AuditFile&& other) noexcept { *this = std::move(other); }

AuditFile& AuditFile::operator=(AuditFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    pending_ = std::move(other.pending_);
    empty_at_open_ = other.empty_at_open_;
  }
  return *this;
}

bool AuditFile::Append(const std::string& line) {
  if (!line.empty()) {
    pending_ += line;
    pending_ += '\n';
  }
  if (fd_ < 0) fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  while (fd_ >= 0 && !pending_.empty()) {
    const ssize_t w = ::write(fd_, pending_.data(), pending_.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;  // ENOSPC and the like: kept for the next call
    pending_.erase(0, static_cast<size_t>(w));
  }
  return pending_.empty();
}

}  // namespace r1rl::learner
