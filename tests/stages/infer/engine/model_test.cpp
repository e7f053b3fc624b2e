// SPDX-License-Identifier: Apache-2.0
// Purpose: Model/Graph behaviour: shapes, facts (stride, receptive field, halo), topological
// order, BN folding, the error messages, and reference vs fast agreement on whole graphs.

#include "stages/error.hpp"
#include "stages/infer/engine/model.hpp"
#include "tests/support/random_tensor.hpp"
#include "tests/support/spec_builder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

namespace atrous::infer
{
namespace
{

using test::SpecBuilder;
using test::weight;

/// A two-level U-Net-like graph: conv3 d1 -> conv3 d2 -> pool -> conv3 d2 -> up -> conv2
/// -> concat(skip) -> conv3 -> conv1 sigmoid.
ModelSpec small_unet(int filters = 4)
{
    SpecBuilder b("small_unet");
    b.input("input", {nullptr, nullptr, nullptr, 2});
    b.conv("c1", "input", filters, 3, 1);
    b.conv("c2", "c1", filters, 3, 2);
    b.add("pool", "MaxPooling2D", {{"pool_size", {2, 2}}}, {"c2"});
    b.conv("c3", "pool", 2 * filters, 3, 2);
    b.add("drop", "Dropout", {{"rate", 0.5}}, {"c3"});
    b.add("up", "UpSampling2D", {{"size", {2, 2}}}, {"drop"});
    b.conv("c4", "up", filters, 2, 1);
    b.add("cat", "Concatenate", {{"axis", -1}}, {"c2", "c4"});
    b.conv("c5", "cat", filters, 3, 1);
    b.conv("out", "c5", 1, 1, 1, "sigmoid");
    return b.spec();
}

Model random_model(const ModelSpec& spec)
{
    BuildOptions options;
    options.initialize_missing_weights = true;
    options.seed = 7;
    return Model(spec, options);
}

using test::random_tensor;

float max_abs_diff(const Tensor& a, const Tensor& b)
{
    EXPECT_EQ(a.shape(), b.shape());
    float worst = 0.0f;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::fabs(a.data()[i] - b.data()[i]));
    return worst;
}

std::string message_of(const std::function<void()>& fn)
{
    try
    {
        fn();
    }
    catch (const ModelError& e)
    {
        return e.what();
    }
    return "<no ModelError>";
}

TEST(Model, InfersShapesAndFacts)
{
    const Model model = random_model(small_unet());
    const ModelFacts& f = model.facts();
    EXPECT_EQ(f.in_channels, 2);
    EXPECT_EQ(f.out_channels, 1);
    EXPECT_TRUE(f.spatial);
    EXPECT_EQ(f.total_stride, 2);
    EXPECT_EQ(f.output_activation, "sigmoid");
    EXPECT_EQ(model.output_shape(Shape{3, 12, 10, 2}), (Shape{3, 12, 10, 1}));
    // Receptive field, input pixels: c1 +1/+1; c2 (d2) +2/+2 -> 3/3; pool: after += 1 -> 3/4,
    // scale 2; c3 (d2, scale 2) +4/+4 -> 7/8; up: scale 1, +1/+1 -> 8/9; c4 (k2): +0/+1 ->
    // 8/10; concat max; c5 +1/+1 -> 9/11; c6 1x1. Radius 11, halo rounded up to 12.
    EXPECT_EQ(f.receptive_radius_px, 11);
    EXPECT_EQ(f.halo_px, 12);
}

TEST(Model, RejectsSizesThatAreNotStrideMultiples)
{
    const Model model = random_model(small_unet());
    EXPECT_NE(message_of(
                  [&] {
                      model.output_shape(Shape{1, 11, 10, 2});
                  })
                  .find("multiples of the total stride 2, 11x10 found"),
              std::string::npos);
    EXPECT_NE(message_of(
                  [&] {
                      model.output_shape(Shape{1, 12, 10, 3});
                  })
                  .find("2 channel(s) expected, 3 found"),
              std::string::npos);
}

TEST(Model, FastMatchesReferenceOnUnetGraph)
{
    const Model model = random_model(small_unet(8));
    const Tensor input = random_tensor(Shape{2, 14, 10, 2}, 1);
    const Tensor ref = model.forward(input, {KernelKind::reference});
    const Tensor fast = model.forward(input, {KernelKind::fast});
    EXPECT_EQ(ref.shape(), (Shape{2, 14, 10, 1}));
    EXPECT_LE(max_abs_diff(ref, fast), 1e-5f);
}

TEST(Model, SortsShuffledSpecTopologically)
{
    ModelSpec spec = small_unet();
    ModelSpec shuffled = spec;
    std::reverse(shuffled.layers.begin(), shuffled.layers.end());
    const Model a = random_model(spec);
    const Model b = random_model(shuffled);
    const auto rows = b.describe(Shape{1, 8, 8, 2});
    ASSERT_EQ(rows.size(), spec.layers.size());
    std::vector<std::string> seen;
    for (const LayerInfo& row : rows)
    {
        const auto it = std::find_if(spec.layers.begin(), spec.layers.end(),
                                     [&](const LayerSpec& l) { return l.name == row.name; });
        ASSERT_NE(it, spec.layers.end());
        for (const std::string& in : it->inputs)
            EXPECT_NE(std::find(seen.begin(), seen.end(), in), seen.end())
                << row.name << " runs before its input " << in;
        seen.push_back(row.name);
    }
    const Tensor input = random_tensor(Shape{1, 8, 8, 2}, 3);
    EXPECT_EQ(max_abs_diff(a.forward(input), b.forward(input)), 0.0f);
}

TEST(Model, ComputesKnownConvolution)
{
    // 1 channel 3x3 input 1..9, 3x3 kernel of ones, bias 0.5, same padding: centre = 45.5,
    // corner (0,0) = 1+2+4+5 + 0.5 = 12.5.
    SpecBuilder b;
    b.input("in", {nullptr, nullptr, nullptr, 1});
    b.add("conv", "Conv2D",
          {{"filters", 1}, {"kernel_size", 3}, {"padding", "same"}, {"activation", "linear"}},
          {"in"},
          {weight("kernel", {3, 3, 1, 1}, [](std::size_t) { return 1.0; }),
           weight("bias", {1}, [](std::size_t) { return 0.5; })});
    const Model model(b.spec());
    Tensor input(Shape{1, 3, 3, 1});
    for (int i = 0; i < 9; ++i)
        input.data()[i] = static_cast<float>(i + 1);
    for (KernelKind kind : {KernelKind::reference, KernelKind::fast})
    {
        const Tensor out = model.forward(input, {kind});
        EXPECT_FLOAT_EQ(out.at(0, 1, 1, 0), 45.5f);
        EXPECT_FLOAT_EQ(out.at(0, 0, 0, 0), 12.5f);
    }
}

TEST(Model, ListsEveryUnsupportedClass)
{
    SpecBuilder b("bad");
    b.input("in", {nullptr, nullptr, nullptr, 1});
    b.add("lstm_1", "LSTM", {}, {"in"});
    b.add("gap", "GlobalAveragePooling2D", {}, {"lstm_1"});
    const std::string what = message_of([&] { Model m(b.spec()); });
    EXPECT_NE(what.find("model test bad: unsupported layer class(es): LSTM (layer lstm_1), "
                        "GlobalAveragePooling2D (layer gap); supported: InputLayer, Conv2D"),
              std::string::npos)
        << what;
}

TEST(Model, NamesLayerAndShapesOnWrongWeight)
{
    SpecBuilder b;
    b.input("in", {nullptr, nullptr, nullptr, 32});
    b.add("conv2d_7", "Conv2D", {{"filters", 128}, {"kernel_size", 3}, {"padding", "same"}}, {"in"},
          {weight("kernel", {3, 3, 64, 128}, [](std::size_t) { return 0.0; }),
           weight("bias", {128}, [](std::size_t) { return 0.0; })});
    EXPECT_EQ(message_of([&] { Model m(b.spec()); }),
              "layer conv2d_7: kernel shape (3,3,32,128) expected, (3,3,64,128) found");
}

TEST(Model, RejectsMissingWeightsUnlessInitializing)
{
    SpecBuilder b;
    b.input("in", {nullptr, nullptr, nullptr, 1});
    b.conv("conv", "in", 4, 3);
    EXPECT_EQ(message_of([&] { Model m(b.spec()); }),
              "layer conv: weight kernel (3,3,1,4) missing");
    const Model a = random_model(b.spec());
    const Model c = random_model(b.spec());
    const Tensor input = random_tensor(Shape{1, 5, 5, 1}, 9);
    EXPECT_EQ(max_abs_diff(a.forward(input), c.forward(input)), 0.0f); // deterministic
    EXPECT_EQ(a.params(), 3 * 3 * 4 + 4);
}

TEST(Model, ReportsCycle)
{
    SpecBuilder b("loop");
    b.input("in", {nullptr, nullptr, nullptr, 1});
    b.add("a", "Add", {}, {"in", "b"});
    b.add("b", "Activation", {{"activation", "relu"}}, {"a"});
    b.spec().outputs = {"b"};
    EXPECT_EQ(message_of([&] { Model m(b.spec()); }), "model test loop: cycle through layers a, b");
}

TEST(Model, ReportsUnknownInboundLayer)
{
    SpecBuilder b;
    b.input("in", {nullptr, nullptr, nullptr, 1});
    b.add("relu", "Activation", {{"activation", "relu"}}, {"nowhere"});
    EXPECT_EQ(message_of([&] { Model m(b.spec()); }),
              "layer relu: input 'nowhere' is not a layer of the model");
}

TEST(Model, RejectsSecondInputLayer)
{
    SpecBuilder b("two");
    b.input("in_a", {nullptr, nullptr, nullptr, 1});
    b.input("in_b", {nullptr, nullptr, nullptr, 1});
    b.add("sum", "Add", {}, {"in_a", "in_b"});
    b.spec().inputs = {"in_a"};
    EXPECT_EQ(message_of([&] { Model m(b.spec()); }),
              "model test two: the output depends on input layer in_b besides the model input "
              "in_a (atrous runs single-input models)");
}

TEST(Model, RejectsConcatOfDifferentSizes)
{
    SpecBuilder b;
    b.input("in", {nullptr, 16, 16, 1});
    b.add("pool", "MaxPooling2D", {{"pool_size", 2}}, {"in"});
    b.add("cat", "Concatenate", {{"axis", -1}}, {"in", "pool"});
    const std::string what = message_of([&] { Model m(b.spec()); });
    EXPECT_NE(what.find("layer cat: inputs of matching batch, height and width expected, found "
                        "(0,16,16,1) (0,8,8,1)"),
              std::string::npos)
        << what;
}

TEST(Model, ClassifierHasFixedSize)
{
    SpecBuilder b("classifier");
    b.input("in", {nullptr, 6, 6, 1});
    b.add("sep", "SeparableConv2D",
          {{"filters", 4}, {"kernel_size", 3}, {"padding", "valid"}, {"activation", "relu"}},
          {"in"});
    b.add("pool", "MaxPooling2D", {{"pool_size", 2}}, {"sep"});
    b.add("flat", "Flatten", {}, {"pool"});
    b.add("dense", "Dense", {{"units", 3}, {"activation", "softmax"}}, {"flat"});
    const Model model = random_model(b.spec());
    EXPECT_FALSE(model.facts().spatial);
    EXPECT_EQ(model.facts().fixed_height, 6);
    EXPECT_EQ(model.facts().output_activation, "softmax");
    EXPECT_EQ(model.output_shape(Shape{5, 6, 6, 1}), (Shape{5, 1, 1, 3}));
    EXPECT_NE(message_of(
                  [&] {
                      model.output_shape(Shape{1, 8, 8, 1});
                  })
                  .find("6x6 pixels expected, 8x8 found"),
              std::string::npos);
    const Tensor input = random_tensor(Shape{5, 6, 6, 1}, 4);
    const Tensor out = model.forward(input);
    EXPECT_LE(max_abs_diff(out, model.forward(input, {KernelKind::reference})), 1e-5f);
    for (int n = 0; n < 5; ++n)
        EXPECT_NEAR(out.at(n, 0, 0, 0) + out.at(n, 0, 0, 1) + out.at(n, 0, 0, 2), 1.0f, 1e-5f);
}

TEST(Model, FoldsBatchNormIntoConv)
{
    SpecBuilder b;
    b.input("in", {nullptr, nullptr, nullptr, 3});
    b.conv("conv", "in", 5, 3, 1, "linear");
    b.add("bn", "BatchNormalization", {{"epsilon", 0.001}}, {"conv"});
    b.add("act", "Activation", {{"activation", "relu"}}, {"bn"});
    const Model model = random_model(b.spec());
    const auto rows = model.describe(Shape{1, 4, 4, 3});
    ASSERT_EQ(rows.size(), 3u); // in, conv+bn, act
    EXPECT_EQ(rows[1].class_name, "Conv2D+BatchNormalization bn");
}

TEST(Model, SeedUnetCosts109GflopPerTile)
{
    // The seed U-Net (64..1024 filters, dilation 2 at levels 4-5) built by hand.
    SpecBuilder b("seed_unet");
    b.input("input_1", {nullptr, nullptr, nullptr, 1});
    std::string x = "input_1";
    std::vector<std::string> skips;
    const int dilation[5] = {1, 1, 1, 2, 2};
    for (int level = 0; level < 5; ++level)
    {
        const int f = 64 << level;
        const std::string l = std::to_string(level);
        x = b.conv("enc" + l + "a", x, f, 3, dilation[level]);
        x = b.conv("enc" + l + "b", x, f, 3, dilation[level]);
        if (level >= 3)
            x = b.add("drop" + l, "Dropout", {{"rate", 0.5}}, {x});
        if (level < 4)
        {
            skips.push_back(x);
            x = b.add("pool" + l, "MaxPooling2D", {{"pool_size", 2}}, {x});
        }
    }
    for (int level = 3; level >= 0; --level)
    {
        const int f = 64 << level;
        const std::string l = std::to_string(level);
        x = b.add("up" + l, "UpSampling2D", {{"size", 2}}, {x});
        x = b.conv("upconv" + l, x, f, 2);
        x = b.add("cat" + l, "Concatenate", {{"axis", 3}}, {skips[level], x});
        x = b.conv("dec" + l + "a", x, f, 3);
        x = b.conv("dec" + l + "b", x, f, 3);
    }
    x = b.conv("final2", x, 2, 3);
    b.conv("final1", x, 1, 1, 1, "sigmoid");
    const Model model = random_model(b.spec());
    EXPECT_NEAR(model.flops(Shape{1, 256, 256, 1}) / 1e9, 109.2, 0.05);
    EXPECT_EQ(model.facts().total_stride, 16);
    EXPECT_EQ(model.params(), 31031685);
}

} // namespace
} // namespace atrous::infer
