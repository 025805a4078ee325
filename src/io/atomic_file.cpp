// Crash-safe file replacement (see atomic_file.h), with POSIX calls because std::filesystem
// has no fsync: rename() is atomic, but only the fsyncs make the new content and the new
// directory entry durable before we report success.
#include "atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "fmnist/core/error.h"

namespace fmnist {
namespace {

[[noreturn]] void fail_errno(const std::string& target, const std::string& what) {
  throw Error(target + ": " + what + ": " + std::strerror(errno));
}

// Opens `path` for reading (enough for fsync on Linux) and fsyncs it.
void fsync_path(const std::string& path, int extra_flags, const std::string& target,
                const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | extra_flags);
  if (fd < 0) fail_errno(target, "cannot open " + what + " to sync it");
  if (::fsync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail_errno(target, "cannot sync " + what);
  }
  if (::close(fd) != 0) fail_errno(target, "cannot close " + what);
}

std::string parent_folder(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace

AtomicFile::AtomicFile(std::string target) : target_(std::move(target)) {
  // pid + a process-wide counter: unique among concurrent writers on one host (ranks share
  // hosts, and one process may write several files at once).
  static std::atomic<unsigned long> counter{0};
  temp_path_ = target_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

AtomicFile::~AtomicFile() {
  if (!committed_) ::unlink(temp_path_.c_str());  // may not exist: nothing to report then
}

void AtomicFile::commit() {
  fsync_path(temp_path_, 0, target_, "the temporary file " + temp_path_);
  if (std::rename(temp_path_.c_str(), target_.c_str()) != 0) {
    fail_errno(target_, "cannot rename " + temp_path_ + " over it");
  }
  committed_ = true;
  fsync_path(parent_folder(target_), O_DIRECTORY, target_, "its folder");
}

bool parse_temp_name(const std::string& file_name, std::string& target_name, long& writer_pid) {
  const std::size_t mark = file_name.rfind(".tmp-");
  if (mark == std::string::npos || mark == 0) return false;
  const std::string tail = file_name.substr(mark + 5);  // "<pid>-<n>"
  const std::size_t dash = tail.find('-');
  const auto all_digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (dash == std::string::npos || !all_digits(tail.substr(0, dash)) || !all_digits(tail.substr(dash + 1)))
    return false;
  target_name = file_name.substr(0, mark);
  writer_pid = std::stol(tail.substr(0, dash));
  return true;
}

long current_pid() { return static_cast<long>(::getpid()); }

void write_text_file_atomically(const std::string& path, const std::string& text) {
  AtomicFile out(path);
  const int fd = ::open(out.temp_path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail_errno(path, "cannot create " + out.temp_path());
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      errno = saved;
      fail_errno(path, "cannot write " + out.temp_path());
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) fail_errno(path, "cannot close " + out.temp_path());
  out.commit();
}

}  // namespace fmnist
