// Checkpoint folder management (see checkpoint_dir.h): naming, the `latest` pointer and
// rotation. Only folder work here; the file format lives in checkpoint_file.cpp.
#include "fmnist/io/checkpoint_dir.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <vector>

#include "atomic_file.h"
#include "fmnist/core/error.h"

namespace fmnist {
namespace {

namespace fs = std::filesystem;

const char kLatestFile[] = "latest";

struct Found {
  std::int64_t epoch;
  std::int64_t step;
  fs::path path;
};

// Parses "ckpt-e<digits>-s<digits>.h5"; anything else (temporary files included) is not ours.
bool parse_name(const std::string& name, std::int64_t& epoch, std::int64_t& step) {
  const auto digits = [&](std::size_t& pos, std::int64_t& value) {
    const std::size_t start = pos;
    value = 0;
    while (pos < name.size() && name[pos] >= '0' && name[pos] <= '9' && pos - start < 18) {
      value = value * 10 + (name[pos++] - '0');
    }
    return pos > start;
  };
  if (name.rfind("ckpt-e", 0) != 0) return false;
  std::size_t pos = 6;
  if (!digits(pos, epoch) || name.compare(pos, 2, "-s") != 0) return false;
  pos += 2;
  return digits(pos, step) && name.compare(pos, std::string::npos, ".h5") == 0;
}

// Our checkpoints in `dir`, oldest first. A missing folder has none.
std::vector<Found> list_checkpoints(const fs::path& dir) {
  std::vector<Found> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    Found f{0, 0, it->path()};
    if (parse_name(f.path.filename().string(), f.epoch, f.step) && it->is_regular_file(ec)) {
      found.push_back(f);
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return std::tie(a.epoch, a.step) < std::tie(b.epoch, b.step);
  });
  return found;
}

// Deletes temporaries of our checkpoints and of `latest` that another process left behind: a
// writer killed between creating and renaming one (kill -9, node failure). A checkpoint
// folder has one writer, rank 0 of one job, so any other process's temporary is dead weight
// (a checkpoint-sized file per crash). Our own in-flight temporaries are left alone.
void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string target;
    long pid = 0;
    std::int64_t epoch, step;
    if (!parse_temp_name(it->path().filename().string(), target, pid) || pid == current_pid()) continue;
    if (target == kLatestFile || parse_name(target, epoch, step)) stale.push_back(it->path());
  }
  for (const fs::path& path : stale) {
    if (!fs::remove(path, ec) && ec)
      throw Error(path.string() +
                  ": cannot delete a temporary file left by a killed writer: " + ec.message());
  }
}

}  // namespace

std::string checkpoint_file_name(std::int64_t epoch, std::int64_t global_step) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "ckpt-e%04" PRId64 "-s%08" PRId64 ".h5", epoch, global_step);
  return buf;
}

std::string save_checkpoint(const std::string& dir, const CheckpointState& state, int keep) {
  if (keep < 1) {
    throw Error(dir +
                ": expected to keep at least 1 checkpoint, found keep = " + std::to_string(keep));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the checkpoint folder: " + ec.message());

  remove_stale_temporaries(dir);
  const std::string name = checkpoint_file_name(state.epoch, state.global_step);
  const fs::path written = fs::path(dir) / name;
  write_checkpoint(written.string(), state);
  write_text_file_atomically((fs::path(dir) / kLatestFile).string(), name + "\n");

  // Rotation only after `latest` points at the new file: a crash in between leaves one extra
  // old checkpoint, never a `latest` naming a deleted one. The file just written always stays,
  // even when older-named runs (e.g. resumed from an earlier epoch) sort after it.
  std::vector<Found> others = list_checkpoints(dir);
  others.erase(std::remove_if(others.begin(), others.end(),
                              [&](const Found& f) { return f.path.filename() == name; }),
               others.end());
  const std::size_t excess =
      others.size() > static_cast<std::size_t>(keep - 1) ? others.size() - (keep - 1) : 0;
  for (std::size_t i = 0; i < excess; ++i) {
    if (!fs::remove(others[i].path, ec) && ec) {
      throw Error(others[i].path.string() + ": cannot delete old checkpoint: " + ec.message());
    }
  }
  return written.string();
}

std::optional<std::string> latest_checkpoint(const std::string& dir) {
  std::ifstream latest(fs::path(dir) / kLatestFile);
  std::string name;
  if (latest && std::getline(latest, name)) {
    while (!name.empty() && (name.back() == '\r' || name.back() == ' ' || name.back() == '\t'))
      name.pop_back();
    std::error_code ec;
    const fs::path candidate = fs::path(dir) / name;
    // Only a plain file name inside `dir`: the pointer file must not lead elsewhere.
    if (!name.empty() && name.find('/') == std::string::npos && name != "." && name != ".." &&
        fs::is_regular_file(candidate, ec)) {
      return candidate.string();
    }
  }
  const std::vector<Found> found = list_checkpoints(dir);
  if (found.empty()) return std::nullopt;
  return found.back().path.string();
}

}  // namespace fmnist
