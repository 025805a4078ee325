// Keras weight files: a model's parameters through Keras 3's .weights.h5 layout and back bit
// for bit; a legacy tf.keras file written here with the HDF5 C API as tf.keras lays it out
// (root layer_names, per-layer weight_names, nested datasets) loads into the same values;
// a file of another architecture fails naming the layer and both shapes.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "fmnist/core/error.h"
#include "fmnist/io/keras_weights_file.h"
#include "fmnist/nn/keras_model.h"
#include "fmnist/nn/model_spec.h"
#include "fmnist/train/keras_weights.h"

namespace fmnist {
namespace {

namespace fs = std::filesystem;

const char kSpec[] = "conv4x3same-bn-relu-pool2-drop0.25-flatten-dense8-dense10";

class KerasWeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fmnist-keras-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// A model with every parameter (moving statistics too) set to distinct values from `seed`.
  static std::unique_ptr<Sequential> filled_model(const std::string& spec, std::uint64_t seed) {
    auto model = build_model(spec);
    model->params().initialize(seed);
    ParamArena& state = model->non_trainable();
    for (std::size_t i = 0; i < state.size(); ++i)
      state.values()[i] = 0.5f + 0.001f * static_cast<float>(i + seed);
    return model;
  }

  static void expect_same_values(const Sequential& a, const Sequential& b) {
    ASSERT_EQ(a.params().size(), b.params().size());
    EXPECT_EQ(0, std::memcmp(a.params().values(), b.params().values(), sizeof(float) * a.params().size()));
    ASSERT_EQ(a.non_trainable().size(), b.non_trainable().size());
    if (a.non_trainable().size() == 0) return;  // no BatchNormalization: an empty arena has no data pointer
    EXPECT_EQ(0, std::memcmp(a.non_trainable().values(), b.non_trainable().values(),
                             sizeof(float) * a.non_trainable().size()));
  }

  fs::path dir_;
};

TEST_F(KerasWeightsTest, Keras3RoundTripIsBitExact) {
  const auto model = filled_model(kSpec, 3);
  const std::string path = (dir_ / "m.weights.h5").string();
  write_keras_weights(path, capture_keras_weights(*model, keras_layers(*model)));
  EXPECT_TRUE(is_keras_weights_file(path));
  const auto loaded = build_model(kSpec);
  load_keras_weights(*loaded, read_keras_weights(path), path);
  expect_same_values(*model, *loaded);
}

TEST_F(KerasWeightsTest, Keras3LayoutIsKerasOwn) {
  const auto model = filled_model(kSpec, 3);
  const std::string path = (dir_ / "m.weights.h5").string();
  write_keras_weights(path, capture_keras_weights(*model, keras_layers(*model)));
  const KerasWeights w = read_keras_weights(path);
  ASSERT_EQ(w.format, KerasWeightsFormat::kKeras3);
  // /layers is listed by name; Keras' names, variables in Keras' order (BN: gamma, beta, mean, variance).
  std::vector<std::string> names;
  for (const KerasLayerWeights& l : w.layers) names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{"batch_normalization", "conv2d", "dense", "dense_1", "dropout",
                                             "flatten", "max_pooling2d", "re_lu"}));
  const KerasLayerWeights& bn = w.layers[0];
  ASSERT_EQ(bn.variables.size(), 4u);
  const ParamView* gamma = model->params().find("batch_normalization/gamma");
  const ParamView* variance = model->non_trainable().find("batch_normalization/moving_variance");
  ASSERT_TRUE(gamma && variance);
  EXPECT_EQ(bn.variables[0].values[0], model->params().values()[gamma->offset]);
  EXPECT_EQ(bn.variables[3].values[0], model->non_trainable().values()[variance->offset]);
  EXPECT_EQ(w.layers[1].variables[0].shape, (std::vector<std::size_t>{3, 3, 1, 4}));
  EXPECT_EQ(w.layers[2].variables[0].shape, (std::vector<std::size_t>{14 * 14 * 4, 8}));
  // The root's empty /vars group, which Keras 3.0-3.5 read unconditionally.
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  EXPECT_GT(H5Lexists(file, "vars", H5P_DEFAULT), 0);
  H5Fclose(file);
}

/// Writes `model` as tf.keras 2 save_weights does: root attribute layer_names (variable-length
/// strings, every layer), each layer group with attribute weight_names (fixed-length strings;
/// an empty float64 array for a layer without weights, as h5py writes []), and the datasets at
/// <layer>/<weight name>, '/' making subgroups.
void write_legacy(const std::string& path, const Sequential& model, bool under_model_weights) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t top =
      under_model_weights ? H5Gcreate2(file, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : file;
  std::vector<const char*> layer_names;
  for (const auto& layer : model.layers()) layer_names.push_back(layer->name().c_str());
  const hid_t vlen = H5Tcopy(H5T_C_S1);
  H5Tset_size(vlen, H5T_VARIABLE);
  hsize_t count = layer_names.size();
  hid_t space = H5Screate_simple(1, &count, nullptr);
  hid_t attr = H5Acreate2(top, "layer_names", vlen, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, vlen, layer_names.data());
  H5Aclose(attr);
  H5Sclose(space);
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    const std::string name = model.layers()[i]->name();
    const hid_t group = H5Gcreate2(top, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<std::string> weight_names;
    std::vector<std::pair<const ParamArena*, const ParamView*>> views;
    for (const ParamArena* arena : {&model.params(), &model.non_trainable()})
      for (const ParamView& v : arena->views())
        if (v.layer_index == static_cast<int>(i)) {
          weight_names.push_back(name + "/" + v.spec.name + ":0");
          views.emplace_back(arena, &v);
        }
    hsize_t n = weight_names.size();
    space = H5Screate_simple(1, &n, nullptr);
    if (weight_names.empty()) {
      attr = H5Acreate2(group, "weight_names", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    } else {
      std::size_t width = 0;
      for (const std::string& w : weight_names) width = std::max(width, w.size());
      std::vector<char> packed(weight_names.size() * width, '\0');
      for (std::size_t w = 0; w < weight_names.size(); ++w)
        std::memcpy(packed.data() + w * width, weight_names[w].data(), weight_names[w].size());
      const hid_t fixed = H5Tcopy(H5T_C_S1);
      H5Tset_size(fixed, width);
      H5Tset_strpad(fixed, H5T_STR_NULLPAD);
      attr = H5Acreate2(group, "weight_names", fixed, space, H5P_DEFAULT, H5P_DEFAULT);
      H5Awrite(attr, fixed, packed.data());
      H5Tclose(fixed);
    }
    H5Aclose(attr);
    H5Sclose(space);
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    for (std::size_t w = 0; w < views.size(); ++w) {
      const ParamView& v = *views[w].second;
      std::vector<hsize_t> dims(v.shape.begin(), v.shape.end());
      const hid_t dspace = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
      const hid_t dataset =
          H5Dcreate2(group, weight_names[w].c_str(), H5T_IEEE_F32LE, dspace, lcpl, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, views[w].first->values() + v.offset);
      H5Dclose(dataset);
      H5Sclose(dspace);
    }
    H5Pclose(lcpl);
    H5Gclose(group);
  }
  H5Tclose(vlen);
  if (under_model_weights) H5Gclose(top);
  ASSERT_GE(H5Fclose(file), 0);
}

TEST_F(KerasWeightsTest, LegacyFileLoadsByPosition) {
  for (bool nested : {false, true}) {
    const auto model = filled_model(kSpec, 5);
    const std::string path = (dir_ / (nested ? "full.h5" : "weights.h5")).string();
    write_legacy(path, *model, nested);
    const KerasWeights w = read_keras_weights(path);
    EXPECT_EQ(w.format, KerasWeightsFormat::kLegacy);
    EXPECT_EQ(w.layers.size(), 4u) << "conv2d, batch_normalization, dense, dense_1 have weights";
    const auto loaded = build_model(kSpec);
    load_keras_weights(*loaded, w, path);
    expect_same_values(*model, *loaded);
  }
}

TEST_F(KerasWeightsTest, OtherArchitectureNamesTheLayerAndBothShapes) {
  const auto model = filled_model("flatten-dense16-dense10", 1);
  const std::string path = (dir_ / "mlp.weights.h5").string();
  write_keras_weights(path, capture_keras_weights(*model, keras_layers(*model)));
  const auto other = build_model("flatten-dense32-dense10");
  try {
    load_keras_weights(*other, read_keras_weights(path), path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("layer 'dense'"), std::string::npos) << message;
    EXPECT_NE(message.find("(784, 32)"), std::string::npos) << message;
    EXPECT_NE(message.find("(784, 16)"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  // The values of the model were not touched by the failed load.
  const auto fresh = build_model("flatten-dense32-dense10");
  expect_same_values(*fresh, *other);
  // A layer the file does not have at all.
  const auto cnn = build_model("conv4x3-flatten-dense10");
  EXPECT_THROW(load_keras_weights(*cnn, read_keras_weights(path), path), Error);
}

TEST_F(KerasWeightsTest, FilesThatAreNotKerasWeights) {
  const std::string text = (dir_ / "text.h5").string();
  {
    std::FILE* f = std::fopen(text.c_str(), "w");
    std::fputs("not hdf5", f);
    std::fclose(f);
  }
  EXPECT_THROW(read_keras_weights(text), Error);
  EXPECT_THROW(read_keras_weights((dir_ / "missing.weights.h5").string()), Error);
  const std::string empty = (dir_ / "empty.h5").string();
  H5Fclose(H5Fcreate(empty.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  EXPECT_FALSE(is_keras_weights_file(empty));
  EXPECT_THROW(read_keras_weights(empty), Error);
}

TEST_F(KerasWeightsTest, SoftmaxAndFlattenWhereKerasNeedsThem) {
  // A last Dense becomes softmax; a last GAP gets an Activation; a Dense on spatial input gets a Flatten.
  const auto mlp = keras_layers(*build_model("flatten-dense16-dense10"));
  EXPECT_NE(mlp.back().config.find("\"activation\": \"softmax\""), std::string::npos);
  const auto gap = keras_layers(*build_model("conv10x3-gap"));
  EXPECT_EQ(gap.back().class_name, "Activation");
  const auto direct = keras_layers(*build_model("conv4x3-dense10"));
  ASSERT_EQ(direct.size(), 3u);
  EXPECT_EQ(direct[1].class_name, "Flatten");
  EXPECT_EQ(direct[1].source, -1);
}

}  // namespace
}  // namespace fmnist
