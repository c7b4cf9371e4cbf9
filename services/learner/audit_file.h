// The learner's append-only JSONL files (metrics.jsonl, trained.jsonl) that survive a full
// disk: a line that cannot be written now is kept, and written, in order, before the next
// one once space returns. Nothing is dropped and no line is written twice (a partial write
// is continued where it stopped).
//
//   AuditFile f(run_dir + "/metrics.jsonl");
//   f.Append(line);   // false while the disk is full (the line waits in memory)
#ifndef R1RL_SERVICES_LEARNER_AUDIT_FILE_H_
#define R1RL_SERVICES_LEARNER_AUDIT_FILE_H_

#include <string>

namespace r1rl::learner {

class AuditFile {
 public:
  AuditFile() = default;
  explicit AuditFile(const std::string& path);  // appends (created if missing)
  ~AuditFile();
  AuditFile(AuditFile&& other) noexcept;
  AuditFile& operator=(AuditFile&& other) noexcept;
  AuditFile(const AuditFile&) = delete;
  AuditFile& operator=(const AuditFile&) = delete;

  // Queues `line` + '\n' (nothing for an empty line) and writes what is queued; true when
  // nothing is left waiting.
  bool Append(const std::string& line);
  bool empty_file() const { return empty_at_open_; }

 private:
  int fd_ = -1;
  std::string path_, pending_;
  bool empty_at_open_ = true;
};

}  // namespace r1rl::learner

#endif  // R1RL_SERVICES_LEARNER_AUDIT_FILE_H_
