// Tests of the model presets and the spec grammar: parameter counts computed here from the
// layer formulas (shapes tracked by hand through each preset) and the Keras-reported figures,
// the summary, Keras-style names and parameter paths, and the errors for bad specs.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fmnist/core/error.h"
#include "fmnist/nn/dense.h"
#include "fmnist/nn/model_spec.h"

namespace fmnist {
namespace {

// A hand-written description of one layer, independent of the spec parser.
struct HandLayer {
  enum Kind { kConv, kPool, kDense, kFlatten, kGap, kDrop, kBn, kRelu } kind;
  int size = 0;       // filters / units / pool size
  int kernel = 0;     // conv kernel
  bool same = false;  // conv padding
};

HandLayer conv(int filters, int kernel, bool same) { return {HandLayer::kConv, filters, kernel, same}; }
HandLayer pool(int size) { return {HandLayer::kPool, size, 0, false}; }
HandLayer dense(int units) { return {HandLayer::kDense, units, 0, false}; }
HandLayer flatten() { return {HandLayer::kFlatten, 0, 0, false}; }
HandLayer gap() { return {HandLayer::kGap, 0, 0, false}; }
HandLayer drop() { return {HandLayer::kDrop, 0, 0, false}; }
HandLayer bn() { return {HandLayer::kBn, 0, 0, false}; }
HandLayer relu() { return {HandLayer::kRelu, 0, 0, false}; }

struct Tracked {
  long long params = 0;
  std::vector<Shape> shapes;  // (1, c, h, w) after each layer
};

// Tracks (c, h, w) from a 28x28 grey image and counts parameters:
// Conv: k*k*cin*cout + cout, 'same' keeps h, w, 'valid' gives h - k + 1 (stride 1);
// MaxPool(p): floor(h / p); Dense: in*out + out; BatchNormalization: 2c trainable (gamma,
// beta; the moving statistics are not counted); Flatten/GAP/Dropout/ReLU: no parameters.
Tracked track(const std::vector<HandLayer>& layers) {
  Tracked t;
  int c = 1, h = 28, w = 28;
  for (const HandLayer& l : layers) {
    switch (l.kind) {
      case HandLayer::kConv:
        t.params += static_cast<long long>(l.kernel) * l.kernel * c * l.size + l.size;
        if (!l.same) {
          h = h - l.kernel + 1;
          w = w - l.kernel + 1;
        }
        c = l.size;
        break;
      case HandLayer::kPool:
        h /= l.size;
        w /= l.size;
        break;
      case HandLayer::kDense:
        t.params += static_cast<long long>(c) * h * w * l.size + l.size;
        c = l.size;
        h = w = 1;
        break;
      case HandLayer::kFlatten:
        c = c * h * w;
        h = w = 1;
        break;
      case HandLayer::kGap:
        h = w = 1;
        break;
      case HandLayer::kBn:
        t.params += 2 * c;
        break;
      case HandLayer::kDrop:
      case HandLayer::kRelu:
        break;
    }
    t.shapes.push_back(Shape{1, c, h, w});
  }
  return t;
}

struct PresetCase {
  std::string name;
  std::vector<HandLayer> layers;
  long long keras_params;  // as Keras' model.summary() reports it (reference/keras-tutorials.md)
};

std::vector<PresetCase> preset_cases() {
  return {
      {"mlp", {flatten(), dense(128), dense(10)}, 101770},
      {"mlp-300-100", {flatten(), dense(300), dense(100), dense(10)}, 266610},
      {"cnn",
       {conv(32, 3, true), pool(2), conv(64, 3, true), pool(2), flatten(), dense(128), dense(10)},
       421642},
      {"cnn-gap", {conv(32, 3, false), pool(2), conv(64, 3, false), gap(), dense(10)}, 19466},
      {"cnn-deep",
       {conv(64, 3, true), conv(64, 3, true), drop(), pool(2), conv(128, 3, true), drop(), pool(2),
        conv(256, 3, false), drop(), gap(), dense(10)},
       409162},
      {"cnn-2x64",
       {conv(64, 3, false), pool(2), conv(64, 3, false), pool(2), flatten(), dense(128), dense(10)},
       243786},
      // Keras' "Trainable params" (its total adds 2 non-trainable values per BN channel).
      {"cnn-bn",
       {conv(32, 3, true), bn(), relu(), pool(2), conv(64, 3, true), bn(), relu(), pool(2), flatten(), dense(128),
        dense(10)},
       421834},
      {"vgg-bn",
       {conv(32, 3, true), bn(), relu(), conv(32, 3, true), bn(), relu(), pool(2), conv(64, 3, true), bn(), relu(),
        conv(64, 3, true), bn(), relu(), pool(2), flatten(), dense(256), bn(), relu(), drop(), dense(10)},
       871530},
  };
}

TEST(ModelSpec, PresetParameterCounts) {
  const std::vector<PresetCase> cases = preset_cases();
  ASSERT_EQ(presets().size(), cases.size());
  for (const PresetCase& p : cases) {
    SCOPED_TRACE(p.name);
    const Tracked t = track(p.layers);
    EXPECT_EQ(t.params, p.keras_params) << "hand count disagrees with Keras' figure";
    std::unique_ptr<Sequential> model = build_model(p.name);
    EXPECT_EQ(static_cast<long long>(model->params().size()), t.params);
    ASSERT_EQ(model->layers().size(), p.layers.size());
    ASSERT_EQ(model->output_shapes().size(), t.shapes.size());
    for (std::size_t i = 0; i < t.shapes.size(); ++i) {
      const Shape& got = model->output_shapes()[i];
      const Shape& want = t.shapes[i];
      EXPECT_TRUE(got.same_sample_shape(want)) << "layer " << i << ": " << got.str() << " vs " << want.str();
    }
    EXPECT_EQ(model->num_classes(), 10);
    // The preset is also found by its spec string, and the spec round-trips through the model.
    EXPECT_EQ(static_cast<long long>(build_model(resolve_model_spec(p.name))->params().size()), t.params);
  }
}

TEST(ModelSpec, ModelSizeMatchesTheHandCountWithoutAllocating) {
  for (const PresetCase& p : preset_cases()) {
    SCOPED_TRACE(p.name);
    const Tracked t = track(p.layers);
    const ModelSize size = model_size(p.name);
    EXPECT_EQ(static_cast<long long>(size.params), t.params);
    std::size_t outputs = 0;
    for (const Shape& s : t.shapes) outputs += s.per_sample();
    EXPECT_EQ(size.outputs_per_sample, outputs);
    EXPECT_EQ(size.input_per_sample, 784u);
  }
  // 784*65536 + 65536 + 2 * (65536*65536 + 65536) + 65536*10 + 10 parameters: 128 GiB with
  // gradients and Adam's moments. Sized from the spec alone, nothing of it allocated.
  const ModelSize huge = model_size("dense65536-dense65536-dense65536-dense10");
  EXPECT_EQ(huge.params, 784ull * 65536 + 65536 + 2 * (65536ull * 65536 + 65536) + 65536ull * 10 + 10);
  EXPECT_THROW(model_size("dense128-dense11"), Error);  // not 10 logits, as build_model
}

TEST(ModelSpec, BuildingAModelBeyondMemoryThrowsBeforeAllocating) {
  try {
    build_model("dense65536-dense65536-dense65536-dense10");
    ADD_FAILURE() << "a 64 GiB model was built";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs about 64.4 GiB"), std::string::npos) << e.what();
  }
}

TEST(ModelSpec, SummaryShowsKerasTotals) {
  const std::string cnn = model_summary(*build_model("cnn"));
  EXPECT_NE(cnn.find("Total params: 421,642"), std::string::npos) << cnn;
  const std::string gap = model_summary(*build_model("cnn-gap"));
  EXPECT_NE(gap.find("Total params: 19,466"), std::string::npos) << gap;
  EXPECT_NE(gap.find("conv2d_1 (Conv2D)"), std::string::npos) << gap;
  EXPECT_NE(gap.find("(None, 26, 26, 32)"), std::string::npos) << gap;
  EXPECT_NE(gap.find("(None, 11, 11, 64)"), std::string::npos) << gap;
  EXPECT_NE(gap.find("18496"), std::string::npos) << gap;
}

// Keras counts BatchNormalization's 4 * channels weights, half of them non-trainable:
// Conv2D(32, 3x3) on 1 channel 320, BN(32) 128 (64 moving statistics), Dense(10) 330.
TEST(ModelSpec, BatchNormalizationCountsAsKeras) {
  const std::unique_ptr<Sequential> model = build_model("conv32x3samelinear-bn-relu-gap-dense10");
  const std::string summary = model_summary(*model);
  EXPECT_NE(summary.find("batch_normalization (BatchNo"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Total params: 778"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Trainable params: 714"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Non-trainable params: 64"), std::string::npos) << summary;
  ASSERT_NE(model->params().find("batch_normalization/gamma"), nullptr);
  ASSERT_NE(model->params().find("batch_normalization/beta"), nullptr);
  ASSERT_NE(model->non_trainable().find("batch_normalization/moving_mean"), nullptr);
  ASSERT_NE(model->non_trainable().find("batch_normalization/moving_variance"), nullptr);
}

TEST(ModelSpec, GroupThousands) {
  EXPECT_EQ(group_thousands(0), "0");
  EXPECT_EQ(group_thousands(7), "7");
  EXPECT_EQ(group_thousands(999), "999");
  EXPECT_EQ(group_thousands(1000), "1,000");
  EXPECT_EQ(group_thousands(19466), "19,466");
  EXPECT_EQ(group_thousands(100000), "100,000");
  EXPECT_EQ(group_thousands(421642), "421,642");
  EXPECT_EQ(group_thousands(1234567), "1,234,567");
  EXPECT_EQ(group_thousands(-1234), "-1,234");
}

void expect_error_naming(const std::string& spec, const std::string& token) {
  try {
    build_model(spec);
    ADD_FAILURE() << "'" << spec << "' was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(token), std::string::npos)
        << "'" << spec << "': message does not name '" << token << "': " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "'" << spec << "' threw something other than fmnist::Error: " << e.what();
  }
}

TEST(ModelSpec, BadSpecsThrowNamingTheToken) {
  expect_error_naming("resnet", "resnet");
  expect_error_naming("conv32x3-dense", "'dense'");
  expect_error_naming("dense0-dense10", "dense0");
  expect_error_naming("flatten-dense128", "dense128");    // last layer does not output 10
  expect_error_naming("conv32x30-dense10", "conv32x30");  // kernel larger than the input
  // 39999^2 x 32 overflowed the int fan-out before any shape check (found by fuzzing).
  expect_error_naming("conv32x39999same-flatten-dense10", "conv32x39999same");
  EXPECT_THROW(model_size("conv32x39999same-flatten-dense10"), Error);
  expect_error_naming("drop1.5-dense10", "drop1.5");
  expect_error_naming("flatten--dense10", "flatten--dense10");  // empty token
}

TEST(ModelSpec, KerasNamesAndParameterPaths) {
  std::unique_ptr<Sequential> model =
      build_model("conv8x3same-conv4x5-pool2-flatten-dense16-drop0.2-dense10");
  const std::vector<std::string> names = {"conv2d", "conv2d_1", "max_pooling2d", "flatten",
                                          "dense",  "dropout",  "dense_1"};
  ASSERT_EQ(model->layers().size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(model->layers()[i]->name(), names[i]);

  // Paths, shapes (Keras layouts) and sizes, in storage order.
  struct Expected {
    std::string path;
    std::vector<std::size_t> shape;
  };
  // conv2d: 28x28x1 -> 28x28x8; conv2d_1 (5x5 valid): -> 24x24x4; pool: 12x12x4 = 576.
  const std::vector<Expected> expected = {
      {"conv2d/kernel", {3, 3, 1, 8}}, {"conv2d/bias", {8}},        {"conv2d_1/kernel", {5, 5, 8, 4}},
      {"conv2d_1/bias", {4}},          {"dense/kernel", {576, 16}}, {"dense/bias", {16}},
      {"dense_1/kernel", {16, 10}},    {"dense_1/bias", {10}},
  };
  const auto& views = model->params().views();
  ASSERT_EQ(views.size(), expected.size());
  std::size_t offset = 0;
  for (std::size_t i = 0; i < views.size(); ++i) {
    EXPECT_EQ(views[i].path, expected[i].path);
    EXPECT_EQ(views[i].shape, expected[i].shape) << views[i].path;
    std::size_t size = 1;
    for (std::size_t d : expected[i].shape) size *= d;
    EXPECT_EQ(views[i].size, size) << views[i].path;
    EXPECT_EQ(views[i].offset, offset) << views[i].path;  // contiguous, in order
    offset += size;
    const ParamView* found = model->params().find(expected[i].path);
    ASSERT_NE(found, nullptr) << expected[i].path;
    EXPECT_EQ(found->offset, views[i].offset);
  }
  EXPECT_EQ(model->params().size(), offset);
  EXPECT_EQ(model->params().find("dense_2/kernel"), nullptr);

  // The last layer outputs logits (linear), hidden Dense layers keep their ReLU.
  const auto* hidden = dynamic_cast<const Dense*>(model->layers()[4].get());
  const auto* last = dynamic_cast<const Dense*>(model->layers().back().get());
  ASSERT_NE(hidden, nullptr);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(hidden->activation(), Activation::kRelu);
  EXPECT_EQ(last->activation(), Activation::kLinear);
}

}  // namespace
}  // namespace fmnist
