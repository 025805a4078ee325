// Crash-safe replacement of a file: write a temporary sibling, fsync it, rename() it over the
// target, fsync the folder. Readers see the old file or the new one, never a torn one.
// Private to src/io/.
#pragma once

#include <string>

namespace fmnist {

/// A temporary file next to `target` that replaces `target` on commit() and is deleted if the
/// AtomicFile is destroyed uncommitted (an exception on the way), so no temp file is left behind.
class AtomicFile {
 public:
  /// Picks the temporary name "<target>.tmp-<pid>-<n>"; creates nothing yet.
  explicit AtomicFile(std::string target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  /// Where to write the content; the writer creates it and must close it before commit().
  const std::string& temp_path() const { return temp_path_; }
  /// fsyncs the temporary file, renames it over the target, fsyncs the folder. Throws Error
  /// naming the target; the temporary file is then removed by the destructor.
  void commit();

 private:
  std::string target_;
  std::string temp_path_;
  bool committed_ = false;
};

/// If `file_name` is an AtomicFile temporary ("<target name>.tmp-<pid>-<n>"), returns true and
/// sets `target_name` and `writer_pid`; otherwise returns false.
bool parse_temp_name(const std::string& file_name, std::string& target_name, long& writer_pid);

/// This process's id, as used in temporary names.
long current_pid();

/// Replaces the file `path` by `text` atomically (as AtomicFile). Throws Error naming `path`.
void write_text_file_atomically(const std::string& path, const std::string& text);

}  // namespace fmnist
