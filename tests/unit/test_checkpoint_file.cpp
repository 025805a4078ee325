// Tests of the HDF5 file layer: checkpoint round trips (bit exact), corruption, truncation and
// version checks, atomic writes, checkpoint folder rotation, and the history files (HDF5 + CSV).
// Set FMNIST_KEEP_TEST_FILES=1 to keep the files written (their folder is printed).
#include <gtest/gtest.h>

#include <limits>
#include <hdf5.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "fmnist/core/error.h"
#include "fmnist/io/checkpoint_dir.h"
#include "fmnist/io/checkpoint_file.h"
#include "fmnist/io/history_file.h"

namespace fmnist {
namespace {

namespace fs = std::filesystem;

float float_from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

double double_from_bits(std::uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

NamedArray make_array(const std::string& path, std::vector<std::size_t> shape, float offset) {
  NamedArray array{path, std::move(shape), {}};
  std::size_t count = 1;
  for (std::size_t d : array.shape) count *= d;
  for (std::size_t i = 0; i < count; ++i) {
    array.values.push_back(offset + 0.001f * static_cast<float>(i));
  }
  return array;
}

// A state exercising every field, with float bit patterns that a lossy path would change.
CheckpointState make_state() {
  CheckpointState state;
  state.model_spec = "conv32x3same-pool2-flatten-dense10";
  state.config = "batch_size = 64\nepochs = 10\nlearning_rate = 0.001\noptimizer = adam\n";
  state.world_size = 4;
  state.epoch = 3;
  state.step_in_epoch = 17;
  state.global_step = 2830;
  // Sums of the unfinished epoch; 0.1 has no exact binary form, so a lossy path would show.
  state.epoch_progress = {{"loss_sum", 12.5}, {"correct", 300}, {"count", 408}, {"seconds", 0.1}};
  state.rng_state = {0, 1, 0x0123456789ABCDEFull, 0xFFFFFFFFFFFFFFFFull};
  state.model = {
      make_array("conv2d/kernel", {32, 1, 3, 3}, -0.5f), make_array("conv2d/bias", {32}, 0.0f),
      make_array("dense/kernel", {6272, 10}, 0.25f), make_array("dense/bias", {10}, 1.0f)};
  std::vector<float>& special = state.model[1].values;
  // (NaN and infinity are refused by the writer: WritingANonFiniteValueIsRefused.)
  special[0] = float_from_bits(0x80000000u);  // -0.0
  special[1] = float_from_bits(0x00000001u);  // smallest denormal
  special[2] = float_from_bits(0x807FFFFFu);  // largest negative denormal
  special[3] = float_from_bits(0x7F7FFFFFu);  // largest finite
  special[4] = float_from_bits(0xFF7FFFFFu);  // most negative finite
  for (const char* moment : {"m", "v"}) {
    for (const NamedArray& param : state.model) {
      NamedArray m = param;
      m.path = std::string(moment) + "/" + param.path;
      state.optimizer.push_back(m);
    }
  }
  state.optimizer_name = "adam";
  state.optimizer_counters = {{"step", 2830}, {"warmup_steps", -1}};
  state.history.add_row(
      {{"loss", 0.61}, {"accuracy", 0.78}, {"val_loss", 0.52}, {"val_accuracy", 0.81}});
  state.history.add_row({{"loss", 0.41},
                         {"accuracy", 0.85},
                         {"val_loss", double_from_bits(0x7FF8000000000123ull)},
                         {"val_accuracy", -0.0}});
  state.history.add_row(
      {{"loss", 1.0 / 3.0}, {"accuracy", 5e-324}, {"val_loss", 0.39}, {"val_accuracy", 0.87}});
  // Callback state: an infinite "best" (nothing seen yet) must survive too.
  state.callbacks = {{"plateau_lr", 1e-4 / 3.0}, {"plateau_best", std::numeric_limits<double>::infinity()},
                     {"early_stopping_wait", 2}};
  state.best_weights = {make_array("conv2d/kernel", {32, 1, 3, 3}, 0.125f), make_array("dense/bias", {10}, -1.0f)};
  return state;
}

bool same_bits(const void* a, const void* b, std::size_t bytes) {
  return bytes == 0 || std::memcmp(a, b, bytes) == 0;
}

void expect_same_arrays(const std::vector<NamedArray>& expected,
                        const std::vector<NamedArray>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(expected[i].path, actual[i].path);
    EXPECT_EQ(expected[i].shape, actual[i].shape) << expected[i].path;
    ASSERT_EQ(expected[i].values.size(), actual[i].values.size()) << expected[i].path;
    EXPECT_TRUE(same_bits(expected[i].values.data(), actual[i].values.data(),
                          expected[i].values.size() * sizeof(float)))
        << expected[i].path << " differs bitwise";
  }
}

void expect_same_history(const History& expected, const History& actual) {
  EXPECT_EQ(expected.keys, actual.keys);
  ASSERT_EQ(expected.columns.size(), actual.columns.size());
  for (std::size_t i = 0; i < expected.columns.size(); ++i) {
    ASSERT_EQ(expected.columns[i].size(), actual.columns[i].size());
    EXPECT_TRUE(same_bits(expected.columns[i].data(), actual.columns[i].data(),
                          expected.columns[i].size() * sizeof(double)))
        << expected.keys[i] << " differs bitwise";
  }
}

void expect_same_state(const CheckpointState& expected, const CheckpointState& actual) {
  EXPECT_EQ(expected.model_spec, actual.model_spec);
  EXPECT_EQ(expected.config, actual.config);
  EXPECT_EQ(expected.world_size, actual.world_size);
  EXPECT_EQ(expected.epoch, actual.epoch);
  EXPECT_EQ(expected.step_in_epoch, actual.step_in_epoch);
  EXPECT_EQ(expected.global_step, actual.global_step);
  EXPECT_EQ(expected.rng_state, actual.rng_state);
  EXPECT_EQ(expected.epoch_progress, actual.epoch_progress);
  expect_same_arrays(expected.model, actual.model);
  expect_same_arrays(expected.optimizer, actual.optimizer);
  EXPECT_EQ(expected.optimizer_counters, actual.optimizer_counters);
  EXPECT_EQ(expected.optimizer_name, actual.optimizer_name);
  expect_same_history(expected.history, actual.history);
  EXPECT_EQ(expected.callbacks, actual.callbacks);
  expect_same_arrays(expected.best_weights, actual.best_weights);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The Error message thrown by `fn`, or a failure if it returns or throws something else.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected fmnist::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected fmnist::Error, nothing was thrown";
  return "";
}

std::vector<std::string> folder_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class CheckpointFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "fmnist_io_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (std::getenv("FMNIST_KEEP_TEST_FILES") != nullptr) {
      std::printf("kept test files in %s\n", dir_.c_str());
      return;
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  std::string dir_;
};

TEST_F(CheckpointFileTest, RoundTripIsBitExactForEveryField) {
  const CheckpointState state = make_state();
  write_checkpoint(path("ckpt.h5"), state);
  expect_same_state(state, read_checkpoint(path("ckpt.h5")));
  EXPECT_EQ(folder_entries(dir_), std::vector<std::string>{"ckpt.h5"})
      << "temporary file left behind";
}

TEST_F(CheckpointFileTest, WritingANonFiniteValueIsRefused) {
  // A diverged run must not replace a good checkpoint: NaN or infinity anywhere that training
  // resumes from is refused before anything is written, and the existing file stays as it was.
  const std::string file = path("ckpt.h5");
  write_checkpoint(file, make_state());
  const std::string before = read_bytes(file);
  struct Case {
    const char* where;
    std::uint32_t bits;
    void (*poison)(CheckpointState&, float);
  };
  const Case cases[] = {
      {"/model/dense/kernel[5]", 0x7FC12345u, [](CheckpointState& s, float v) { s.model[2].values[5] = v; }},
      {"/model/conv2d/bias[0]", 0x7F800000u, [](CheckpointState& s, float v) { s.model[1].values[0] = v; }},
      {"/optimizer/v/dense/bias[9]", 0xFF800000u, [](CheckpointState& s, float v) { s.optimizer.back().values[9] = v; }},
      {"/progress/loss_sum", 0x7FC00000u, [](CheckpointState& s, float v) { s.epoch_progress["loss_sum"] = v; }},
  };
  for (const Case& c : cases) {
    CheckpointState state = make_state();
    c.poison(state, float_from_bits(c.bits));
    try {
      write_checkpoint(file, state);
      ADD_FAILURE() << "a non-finite value in " << c.where << " was written";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(c.where), std::string::npos) << message;
      EXPECT_NE(message.find("non-finite"), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
    EXPECT_TRUE(read_bytes(file) == before) << "the good checkpoint changed";
    EXPECT_EQ(folder_entries(dir_), std::vector<std::string>{"ckpt.h5"}) << "temporary file left behind";
  }
}

TEST_F(CheckpointFileTest, RoundTripOfEmptyAndZeroSizedFields) {
  CheckpointState
      state;  // no history yet (before the first epoch), no RNG words, no optimizer arrays
  state.model = {make_array("dense/kernel", {0, 10}, 0.0f), make_array("dense/bias", {10}, 0.0f)};
  state.optimizer_name = "sgd";
  write_checkpoint(path("empty.h5"), state);
  const CheckpointState loaded = read_checkpoint(path("empty.h5"));
  expect_same_state(state, loaded);
  EXPECT_EQ(loaded.history.rows(), 0u);

  // History keys without values yet are kept too.
  state.history.keys = {"loss"};
  state.history.columns = {{}};
  write_checkpoint(path("empty.h5"), state);  // replaces the existing file
  expect_same_state(state, read_checkpoint(path("empty.h5")));
}

TEST_F(CheckpointFileTest, LargeArraysRoundTripAcrossSeveralChunks) {
  CheckpointState state;
  state.model = {make_array("big/kernel", {3, 300, 1000}, -1.0f),
                 make_array("long/bias", {700000}, 2.0f)};
  write_checkpoint(path("big.h5"), state);
  expect_same_state(state, read_checkpoint(path("big.h5")));
}

TEST_F(CheckpointFileTest, SameStateGivesIdenticalBytes) {
  // No timestamps are stored, so checkpoints of identical states can be compared with cmp.
  write_checkpoint(path("a.h5"), make_state());
  write_checkpoint(path("b.h5"), make_state());
  EXPECT_TRUE(read_bytes(path("a.h5")) == read_bytes(path("b.h5")));
}

TEST_F(CheckpointFileTest, EveryFlippedByteIsDetected) {
  const std::string good = path("good.h5");
  write_checkpoint(good, make_state());
  const std::string bytes = read_bytes(good);
  ASSERT_GT(bytes.size(), 1000u);
  // Offsets spread over the whole file (seal, superblock, object headers, chunk data, slack
  // between objects), plus the first and last byte.
  std::vector<std::size_t> offsets = {0, bytes.size() - 1};
  const std::size_t kSpread = 40;
  for (std::size_t i = 0; i < kSpread; ++i) {
    offsets.push_back((2 * i + 1) * bytes.size() / (2 * kSpread));
  }
  for (std::size_t offset : offsets) {
    for (unsigned char mask : {0x01, 0x80}) {
      std::string corrupted = bytes;
      corrupted[offset] = static_cast<char>(corrupted[offset] ^ mask);
      const std::string bad = path("bad.h5");
      write_bytes(bad, corrupted);
      const std::string message = error_of([&] { read_checkpoint(bad); });
      EXPECT_NE(message.find(bad), std::string::npos) << "offset " << offset << ": " << message;
    }
  }
}

TEST_F(CheckpointFileTest, TruncatedFileThrows) {
  write_checkpoint(path("ckpt.h5"), make_state());
  const std::string bytes = read_bytes(path("ckpt.h5"));
  for (std::size_t size : {bytes.size() / 2, bytes.size() - 1, std::size_t{600}, std::size_t{8}}) {
    write_bytes(path("short.h5"), bytes.substr(0, size));
    const std::string message = error_of([&] { read_checkpoint(path("short.h5")); });
    EXPECT_NE(message.find(path("short.h5")), std::string::npos)
        << "size " << size << ": " << message;
  }
}

TEST_F(CheckpointFileTest, AppendedByteThrows) {
  write_checkpoint(path("ckpt.h5"), make_state());
  write_bytes(path("long.h5"), read_bytes(path("ckpt.h5")) + "x");
  const std::string message = error_of([&] { read_checkpoint(path("long.h5")); });
  EXPECT_NE(message.find(path("long.h5")), std::string::npos) << message;
}

TEST_F(CheckpointFileTest, WrongFormatVersionThrowsNamingBothVersions) {
  write_checkpoint(path("ckpt.h5"), make_state());
  // Change the attribute the way another tool (or a future version) would.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(path("ckpt.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t attr = H5Aopen(file, "format_version", H5P_DEFAULT);
  ASSERT_GE(attr, 0);
  const int future_version = kCheckpointFormatVersion + 1;
  EXPECT_GE(H5Awrite(attr, H5T_NATIVE_INT, &future_version), 0);
  EXPECT_GE(H5Aclose(attr), 0);
  EXPECT_GE(H5Fclose(file), 0);

  const std::string message = error_of([&] { read_checkpoint(path("ckpt.h5")); });
  EXPECT_NE(message.find(path("ckpt.h5")), std::string::npos) << message;
  EXPECT_NE(message.find("expected checkpoint format version " +
                         std::to_string(kCheckpointFormatVersion)),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("found " + std::to_string(future_version)), std::string::npos) << message;
}

TEST_F(CheckpointFileTest, NonHdf5AndMissingFilesThrow) {
  write_bytes(path("notes.h5"), "epoch,loss\n1,0.5\n");
  std::string message = error_of([&] { read_checkpoint(path("notes.h5")); });
  EXPECT_NE(message.find(path("notes.h5")), std::string::npos) << message;
  EXPECT_NE(message.find("HDF5"), std::string::npos) << message;

  write_bytes(path("zero.h5"), "");
  message = error_of([&] { read_checkpoint(path("zero.h5")); });
  EXPECT_NE(message.find(path("zero.h5")), std::string::npos) << message;

  message = error_of([&] { read_checkpoint(path("missing.h5")); });
  EXPECT_NE(message.find(path("missing.h5")), std::string::npos) << message;
}

TEST_F(CheckpointFileTest, MessagesAreOneLine) {
  write_bytes(path("notes.h5"), "not hdf5");
  EXPECT_EQ(error_of([&] { read_checkpoint(path("notes.h5")); }).find('\n'), std::string::npos);
  write_checkpoint(path("ckpt.h5"), make_state());
  std::string bytes = read_bytes(path("ckpt.h5"));
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
  write_bytes(path("bad.h5"), bytes);
  EXPECT_EQ(error_of([&] { read_checkpoint(path("bad.h5")); }).find('\n'), std::string::npos);
}

TEST_F(CheckpointFileTest, WriteUnderARegularFileThrowsAndLeavesNothing) {
  write_bytes(path("plain"), "a regular file, not a folder");
  const std::string target = path("plain") + "/ckpt.h5";
  const std::string message = error_of([&] { write_checkpoint(target, make_state()); });
  EXPECT_NE(message.find(target), std::string::npos) << message;
  EXPECT_EQ(folder_entries(dir_), std::vector<std::string>{"plain"});
}

TEST_F(CheckpointFileTest, FailedRenameRemovesTheTemporaryFile) {
  // The whole file gets written; only the final rename() fails (a folder is in the way).
  fs::create_directory(path("ckpt.h5"));
  const std::string message = error_of([&] { write_checkpoint(path("ckpt.h5"), make_state()); });
  EXPECT_NE(message.find(path("ckpt.h5")), std::string::npos) << message;
  EXPECT_EQ(folder_entries(dir_), std::vector<std::string>{"ckpt.h5"})
      << "temporary file left behind";
  EXPECT_TRUE(fs::is_directory(path("ckpt.h5")));
}

TEST_F(CheckpointFileTest, FailedWriteKeepsThePreviousFile) {
  CheckpointState state = make_state();
  write_checkpoint(path("ckpt.h5"), state);
  const std::string before = read_bytes(path("ckpt.h5"));
  CheckpointState bad = state;
  bad.model[0].values.pop_back();  // no longer matches its shape
  const std::string message = error_of([&] { write_checkpoint(path("ckpt.h5"), bad); });
  EXPECT_NE(message.find(path("ckpt.h5")), std::string::npos) << message;
  EXPECT_NE(message.find("conv2d/kernel"), std::string::npos) << message;
  EXPECT_EQ(read_bytes(path("ckpt.h5")), before);
  EXPECT_EQ(folder_entries(dir_), std::vector<std::string>{"ckpt.h5"});
}

TEST_F(CheckpointFileTest, InvalidStatesAreRejected) {
  const auto rejects = [&](const CheckpointState& state) {
    const std::string message = error_of([&] { write_checkpoint(path("x.h5"), state); });
    EXPECT_NE(message.find(path("x.h5")), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(path("x.h5")));
  };
  CheckpointState state = make_state();
  state.model.push_back(state.model[0]);  // duplicate path
  rejects(state);
  state = make_state();
  state.model[0].path = "conv2d//kernel";
  rejects(state);
  state = make_state();
  state.model[0].shape.clear();
  rejects(state);
  state = make_state();
  state.optimizer_counters["name"] = 1;
  rejects(state);
  state = make_state();
  state.world_size = 0;
  rejects(state);
  state = make_state();
  state.history.columns[0].pop_back();
  rejects(state);
  EXPECT_TRUE(folder_entries(dir_).empty());
}

TEST_F(CheckpointFileTest, SaveCheckpointKeepsTheNewestAndPointsLatestAtIt) {
  const std::string dir = path("run/checkpoints");  // created on demand
  CheckpointState state = make_state();
  std::string written;
  for (int epoch = 1; epoch <= 5; ++epoch) {
    state.epoch = epoch;
    state.global_step = 100 * epoch;
    written = save_checkpoint(dir, state, 3);
  }
  EXPECT_EQ(written, (fs::path(dir) / "ckpt-e0005-s00000500.h5").string());
  EXPECT_EQ(folder_entries(dir),
            (std::vector<std::string>{"ckpt-e0003-s00000300.h5", "ckpt-e0004-s00000400.h5",
                                      "ckpt-e0005-s00000500.h5", "latest"}));
  EXPECT_EQ(read_bytes((fs::path(dir) / "latest").string()), "ckpt-e0005-s00000500.h5\n");
  ASSERT_TRUE(latest_checkpoint(dir).has_value());
  EXPECT_EQ(*latest_checkpoint(dir), written);
  EXPECT_EQ(read_checkpoint(*latest_checkpoint(dir)).epoch, 5);

  // Resumed from epoch 3: the new file is kept and `latest` names it although epoch 5 sorts later.
  state.epoch = 4;
  state.global_step = 401;
  written = save_checkpoint(dir, state, 2);
  EXPECT_EQ(folder_entries(dir), (std::vector<std::string>{"ckpt-e0004-s00000401.h5",
                                                           "ckpt-e0005-s00000500.h5", "latest"}));
  EXPECT_EQ(*latest_checkpoint(dir), written);

  const std::string message = error_of([&] { save_checkpoint(dir, state, 0); });
  EXPECT_NE(message.find(dir), std::string::npos) << message;
}

TEST_F(CheckpointFileTest, SaveCheckpointDeletesTemporariesOfKilledWriters) {
  const std::string dir = path("checkpoints");
  fs::create_directory(dir);
  const auto touch = [&](const std::string& name) { std::ofstream(fs::path(dir) / name) << "partial"; };
  // What a writer killed mid-write leaves (pid 2147483646 is not this process) ...
  touch("ckpt-e0002-s00000040.h5.tmp-2147483646-0");
  touch("latest.tmp-2147483646-7");
  // ... and what must stay: this process's own temporaries (in flight) and files not ours.
  const std::string own = "ckpt-e0009-s00000090.h5.tmp-" + std::to_string(::getpid()) + "-5";
  touch(own);
  touch("notes.txt.tmp-2147483646-0");
  touch("ckpt-e0002-s00000040.h5.tmp-x-0");

  CheckpointState state = make_state();
  state.epoch = 3;
  state.global_step = 60;
  save_checkpoint(dir, state, 2);
  EXPECT_EQ(folder_entries(dir),
            (std::vector<std::string>{"ckpt-e0002-s00000040.h5.tmp-x-0", "ckpt-e0003-s00000060.h5", own,
                                      "latest", "notes.txt.tmp-2147483646-0"}));
}

TEST_F(CheckpointFileTest, LatestCheckpointFallsBackToTheNewestName) {
  EXPECT_FALSE(latest_checkpoint(path("missing")).has_value());
  fs::create_directory(path("empty"));
  EXPECT_FALSE(latest_checkpoint(path("empty")).has_value());

  const std::string dir = path("ckpts");
  fs::create_directory(dir);
  for (const char* name :
       {"ckpt-e0002-s00000200.h5", "ckpt-e0010-s00001000.h5", "ckpt-e0003-s00000300.h5",
        "ckpt-e0099-s00009900.h5.tmp-12-0", "notes.txt"}) {
    write_bytes((fs::path(dir) / name).string(), "x");
  }
  const std::string newest = (fs::path(dir) / "ckpt-e0010-s00001000.h5").string();
  EXPECT_EQ(latest_checkpoint(dir), newest);  // no `latest` file
  write_bytes((fs::path(dir) / "latest").string(), "ckpt-e0003-s00000300.h5\n");
  EXPECT_EQ(latest_checkpoint(dir), (fs::path(dir) / "ckpt-e0003-s00000300.h5").string());
  write_bytes((fs::path(dir) / "latest").string(), "ckpt-e0004-s00000400.h5\n");  // deleted by hand
  EXPECT_EQ(latest_checkpoint(dir), newest);
}

// The CSV the test expects, built independently of the library: printf's %.17g.
std::string expected_csv(const History& history) {
  std::string csv = "epoch";
  for (const std::string& key : history.keys) csv += "," + key;
  csv += "\n";
  for (std::size_t row = 0; row < history.rows(); ++row) {
    csv += std::to_string(row + 1);
    for (const std::vector<double>& column : history.columns) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.17g", column[row]);
      csv += std::string(",") + buf;
    }
    csv += "\n";
  }
  return csv;
}

TEST_F(CheckpointFileTest, HistoryRoundTripAndCsv) {
  History history;
  history.add_row(
      {{"loss", 0.1}, {"accuracy", 1.0 / 3.0}, {"val_loss", 1e-300}, {"val_accuracy", 12345.678}});
  history.add_row(std::map<std::string, double>{{"val_accuracy", -0.0},
                                                {"loss", 2.0 / 3.0},
                                                {"accuracy", 5e-324},
                                                {"val_loss", 0.30000000000000004}});
  const std::string h5 = path("history.h5"), csv = path("history.csv");
  write_history(h5, csv, history);
  expect_same_history(history, read_history(h5));
  const std::string text = read_bytes(csv);
  EXPECT_EQ(text, expected_csv(history));

  // Every value parses back to the same double.
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "epoch,loss,accuracy,val_loss,val_accuracy");
  for (std::size_t row = 0; std::getline(lines, line); ++row) {
    std::istringstream fields(line);
    std::string field;
    std::getline(fields, field, ',');
    EXPECT_EQ(field, std::to_string(row + 1));
    for (std::size_t k = 0; std::getline(fields, field, ','); ++k) {
      const double parsed = std::strtod(field.c_str(), nullptr);
      EXPECT_TRUE(same_bits(&parsed, &history.columns[k][row], sizeof(double))) << field;
    }
  }

  // Rewritten after the next epoch: both files are replaced, nothing else is left.
  history.add_row({{"loss", 0.05}, {"accuracy", 0.9}, {"val_loss", 0.07}, {"val_accuracy", 0.88}});
  write_history(h5, csv, history);
  expect_same_history(history, read_history(h5));
  EXPECT_EQ(read_bytes(csv), expected_csv(history));
  EXPECT_EQ(folder_entries(dir_), (std::vector<std::string>{"history.csv", "history.h5"}));
}

TEST_F(CheckpointFileTest, HistoryFileIsPlainForOtherTools) {
  History history;
  history.add_row({{"loss", 0.5}, {"accuracy", 0.75}});
  history.add_row({{"loss", 0.25}, {"accuracy", 0.875}});
  write_history(path("history.h5"), path("history.csv"), history);
  // Read with the bare C API, as h5py would: float64 columns and an int64 epoch dataset.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(path("history.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t epoch = H5Dopen2(file, "/history/epoch", H5P_DEFAULT);
  ASSERT_GE(epoch, 0);
  const hid_t epoch_type = H5Dget_type(epoch);
  EXPECT_GT(H5Tequal(epoch_type, H5T_STD_I64LE), 0);
  std::int64_t epochs[2] = {0, 0};
  EXPECT_GE(H5Dread(epoch, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, epochs), 0);
  EXPECT_EQ(epochs[0], 1);
  EXPECT_EQ(epochs[1], 2);
  const hid_t loss = H5Dopen2(file, "/history/loss", H5P_DEFAULT);
  ASSERT_GE(loss, 0);
  const hid_t loss_type = H5Dget_type(loss);
  EXPECT_GT(H5Tequal(loss_type, H5T_IEEE_F64LE), 0);
  double values[2] = {0, 0};
  EXPECT_GE(H5Dread(loss, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), 0);
  EXPECT_EQ(values[0], 0.5);
  EXPECT_EQ(values[1], 0.25);
  H5Tclose(loss_type);
  H5Dclose(loss);
  H5Tclose(epoch_type);
  H5Dclose(epoch);
  H5Fclose(file);
}

TEST_F(CheckpointFileTest, EmptyHistoryFiles) {
  write_history(path("history.h5"), path("history.csv"), History{});
  EXPECT_EQ(read_history(path("history.h5")).rows(), 0u);
  EXPECT_TRUE(read_history(path("history.h5")).keys.empty());
  EXPECT_EQ(read_bytes(path("history.csv")), "epoch\n");
}

TEST_F(CheckpointFileTest, HistoryErrorsNameTheFile) {
  std::string message = error_of([&] { read_history(path("missing.h5")); });
  EXPECT_NE(message.find(path("missing.h5")), std::string::npos) << message;

  write_checkpoint(path("ckpt.h5"), make_state());  // an HDF5 file, but not a history file
  message = error_of([&] { read_history(path("ckpt.h5")); });
  EXPECT_NE(message.find(path("ckpt.h5")), std::string::npos) << message;

  History bad;
  bad.keys = {"loss", "epoch"};
  bad.columns = {{0.5}, {1.0}};
  message = error_of([&] { write_history(path("h.h5"), path("h.csv"), bad); });
  EXPECT_NE(message.find(path("h.h5")), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(path("h.h5")));
  EXPECT_FALSE(fs::exists(path("h.csv")));
}

TEST(HistoryTest, AddRowChecksKeysAndKeepsOrder) {
  History history;
  EXPECT_EQ(history.rows(), 0u);
  history.add_row({{"loss", 1.0}, {"accuracy", 0.5}});
  history.add_row({{"accuracy", 0.6}, {"loss", 0.9}});  // any order after the first row
  EXPECT_EQ(history.keys, (std::vector<std::string>{"loss", "accuracy"}));
  EXPECT_EQ(history.rows(), 2u);
  EXPECT_EQ(history.column("loss"), (std::vector<double>{1.0, 0.9}));
  EXPECT_EQ(history.column("accuracy"), (std::vector<double>{0.5, 0.6}));
  EXPECT_TRUE(history.has("loss"));
  EXPECT_FALSE(history.has("val_loss"));

  EXPECT_THROW(history.add_row({{"loss", 0.8}}), Error);
  EXPECT_THROW(history.add_row({{"loss", 0.8}, {"val_loss", 0.7}}), Error);
  EXPECT_THROW(history.add_row({{"loss", 0.8}, {"accuracy", 0.7}, {"val_loss", 0.7}}), Error);
  EXPECT_THROW(history.add_row({{"loss", 0.8}, {"loss", 0.7}}), Error);
  EXPECT_THROW(history.column("val_loss"), Error);
  EXPECT_EQ(history.rows(), 2u);
  EXPECT_EQ(history.column("accuracy").size(), 2u);
}

}  // namespace
}  // namespace fmnist
