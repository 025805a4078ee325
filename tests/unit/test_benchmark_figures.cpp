// The benchmark's derived figures: the FLOP count behind its GFLOP/s, checked against the
// Keras shapes of the tutorial cnn counted by hand, and the per-layer profile table.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "fmnist/nn/model_spec.h"
#include "fmnist/train/benchmark.h"
#include "fmnist/train/layer_profile.h"

namespace fmnist {
namespace {

TEST(BenchmarkFigures, CnnFlopsPerSampleFromKerasShapes) {
  // Multiply-adds per sample of each GEMM layer, from the Keras summary's shapes:
  // conv 28x28x32 outputs of 3x3x1, conv 14x14x64 of 3x3x32, dense 3136 -> 128, dense 128 -> 10.
  const double conv1 = 28.0 * 28 * 32 * (3 * 3 * 1), conv2 = 14.0 * 14 * 64 * (3 * 3 * 32);
  const double dense1 = 3136.0 * 128, dense2 = 128.0 * 10;
  // Training = forward + weight gradient (+ input gradient except for the first layer), 2 FLOPs per MAC.
  const double expected = 2.0 * (2 * conv1 + 3 * (conv2 + dense1 + dense2));
  const auto model = build_model("cnn");
  EXPECT_DOUBLE_EQ(training_flops_per_sample(*model), expected);
  EXPECT_NEAR(expected, 25e6, 0.1e6);  // "about 25 MFLOP" per sample, as issue #6 puts it
}

TEST(BenchmarkFigures, MlpFlopsPerSampleWithoutTheFirstDensesInputGradient) {
  // Flatten comes first and takes no gradient, so the 784 -> 128 Dense computes no dx.
  const double dense1 = 784.0 * 128, dense2 = 128.0 * 10;
  const auto model = build_model("flatten-dense128-dense10");
  EXPECT_DOUBLE_EQ(training_flops_per_sample(*model), 2.0 * (2 * dense1 + 3 * dense2));
  EXPECT_FALSE(model->computes_input_grad(0));
  EXPECT_FALSE(model->computes_input_grad(1));
  EXPECT_TRUE(model->computes_input_grad(2));
}

TEST(BenchmarkFigures, LayerProfileHasOneRowPerLayerAndConsistentTotals) {
  const auto model = build_model("conv4x3same-pool2-conv8x3same-pool2-drop0.5-flatten-dense8-dense10");
  const int batch = 4;
  model->setup(batch);
  // Both kinds of fused pair: direct loops (one input channel) and im2col tiles.
  EXPECT_TRUE(model->fused_with_next(0));
  EXPECT_TRUE(model->fused_with_next(2));
  std::ostringstream out;
  print_layer_profile(*model, batch, 3, out);

  std::istringstream lines(out.str());
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), 2 + model->layers().size() + 1) << out.str();  // header, rule, layers, total

  double forward_sum = 0.0, backward_sum = 0.0;
  for (std::size_t i = 0; i < model->layers().size(); ++i) {
    const std::string& row = rows[2 + i];
    EXPECT_EQ(row.rfind("| " + model->layers()[i]->name() + " (", 0), 0u) << row;
    if (i > 0 && model->fused_with_next(i - 1)) {  // a conv that runs with its pool
      EXPECT_NE(row.find("run with " + model->layers()[i - 1]->name()), std::string::npos) << row;
    }
    if (model->layers()[i]->reshapes_only()) {  // Flatten: a view in training
      EXPECT_NE(row.find("a view: not run"), std::string::npos) << row;
    }
    // | name (spec) | shape | forward | backward | ...
    std::vector<std::string> cells;
    std::istringstream split(row);
    std::string cell;
    while (std::getline(split, cell, '|')) cells.push_back(cell);
    ASSERT_GE(cells.size(), 5u) << row;
    const double forward = std::stod(cells[3]), backward = std::stod(cells[4]);
    EXPECT_GE(forward, 0.0);
    EXPECT_GE(backward, 0.0);
    forward_sum += forward;
    backward_sum += backward;
  }
  std::vector<std::string> total;
  std::istringstream split(rows.back());
  std::string cell;
  while (std::getline(split, cell, '|')) total.push_back(cell);
  ASSERT_GE(total.size(), 5u) << rows.back();
  EXPECT_NE(total[1].find("total"), std::string::npos);
  const double rounding = 0.001 * model->layers().size();  // each cell is rounded to 1 us
  EXPECT_NEAR(std::stod(total[3]), forward_sum, rounding);
  EXPECT_NEAR(std::stod(total[4]), backward_sum, rounding);
}

}  // namespace
}  // namespace fmnist
