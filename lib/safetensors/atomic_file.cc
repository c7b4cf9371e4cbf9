#include "lib/safetensors/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace r1rl::safetensors {
namespace {

absl::Status ErrnoError(const std::string& path, std::string_view what, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat(path, ": ", std::string(what), ": ", std::strerror(err)));
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Closes the descriptor unless released; removes the temporary unless committed.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  absl::Status Open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoError(path_, "cannot create", errno);
    return absl::OkStatus();
  }
  absl::Status Write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(path_, "write failed", errno);
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }
  absl::Status SyncAndClose() {
    if (::fsync(fd_) != 0) return ErrnoError(path_, "fsync failed", errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return ErrnoError(path_, "close failed", errno);
    return absl::OkStatus();
  }
  void MarkCommitted() { committed_ = true; }

 private:
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::function<absl::Status(const WriteFn&)>& fill) {
  const std::string tmp_path = path + ".tmp";
  TempFile tmp(tmp_path);
  absl::Status status = tmp.Open();
  if (!status.ok()) return status;
  status = fill([&tmp](std::string_view bytes) { return tmp.Write(bytes); });
  if (!status.ok()) return status;
  status = tmp.SyncAndClose();
  if (!status.ok()) return status;
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    return ErrnoError(path, absl::StrCat("cannot rename ", tmp_path, " to it"), errno);
  }
  tmp.MarkCommitted();
  // Persist the rename itself; a failure here leaves a complete file in place.
  const std::string dir = DirectoryOf(path);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoError(dir, "cannot open directory to fsync", errno);
  const int rc = ::fsync(dir_fd);
  const int err = errno;
  ::close(dir_fd);
  if (rc != 0) return ErrnoError(dir, "fsync of directory failed", err);
  return absl::OkStatus();
}

absl::Status WriteStringAtomically(const std::string& path, std::string_view contents) {
  return WriteFileAtomically(path, [contents](const WriteFn& write) { return write(contents); });
}

}  // namespace r1rl::safetensors
