// SPDX-License-Identifier: Apache-2.0
// Purpose: every layer fixture (tools/make_layer_fixtures.py, PyTorch outputs) run through the
// engine with the reference and the fast kernels; tolerance: max abs error <= 1e-4.

#include "stages/infer/engine/model.hpp"
#include "tests/support/h5_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace atrous::infer
{
namespace
{

namespace fs = std::filesystem;

const fs::path k_dir = fs::path(ATROUS_FIXTURES_DIR) / "layers";

std::vector<std::string> case_names()
{
    std::vector<std::string> names;
    if (fs::is_directory(k_dir))
        for (const auto& entry : fs::directory_iterator(k_dir))
            if (entry.path().extension() == ".h5")
                names.push_back(entry.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

Tensor to_tensor(const test::H5Array& a)
{
    EXPECT_EQ(a.shape.size(), 4u);
    Tensor t(Shape{a.shape[0], a.shape[1], a.shape[2], a.shape[3]});
    std::copy(a.values.begin(), a.values.end(), t.data());
    return t;
}

/// InputLayer(s) + the fixture's layers in sequence, weights attached.
ModelSpec spec_of(const test::H5Fixture& file, const std::vector<Tensor>& inputs)
{
    ModelSpec spec;
    spec.name = file.string_attr("case");
    spec.source = "fixture " + spec.name;
    std::vector<std::string> input_names;
    for (std::size_t i = 0; i < inputs.size(); ++i)
    {
        const Shape& s = inputs[i].shape();
        LayerSpec in;
        in.name = "input_" + std::to_string(i);
        in.class_name = "InputLayer";
        in.config = {{"batch_input_shape", {nullptr, s.h, s.w, s.c}}};
        input_names.push_back(in.name);
        spec.layers.push_back(in);
    }
    // Merge fixtures (several inputs) get one InputLayer per operand; MatchesPyTorch feeds
    // them from a single merged input.
    const nlohmann::json layers = nlohmann::json::parse(file.string_attr("layers"));
    std::vector<std::string> previous = input_names;
    for (const auto& l : layers)
    {
        LayerSpec layer;
        layer.name = l["name"];
        layer.class_name = l["class_name"];
        layer.config = l["config"];
        layer.inputs = previous;
        for (const auto& w : l["weights"])
        {
            const test::H5Array a =
                file.array("weights/" + layer.name + "/" + w.get<std::string>());
            layer.weights.push_back(WeightArray{w, a.shape, a.values});
        }
        previous = {layer.name};
        spec.layers.push_back(layer);
    }
    spec.inputs = {input_names[0]};
    spec.outputs = previous;
    return spec;
}

class GoldenLayer : public ::testing::TestWithParam<std::string>
{
};

TEST_P(GoldenLayer, MatchesPyTorch)
{
    const std::string name = GetParam();
    const test::H5Fixture file((k_dir / (name + ".h5")).string());
    std::vector<Tensor> inputs;
    if (file.exists("input"))
        inputs.push_back(to_tensor(file.array("input")));
    for (int i = 0; file.exists("input_" + std::to_string(i)); ++i)
        inputs.push_back(to_tensor(file.array("input_" + std::to_string(i))));
    ASSERT_FALSE(inputs.empty());
    const Tensor want = to_tensor(file.array("output"));

    ModelSpec spec = spec_of(file, inputs);
    if (inputs.size() > 1)
    {
        // A model has one input: concatenate the operands as channels of one input tensor and
        // split them back with 1x1 selection convolutions, so merge layers see separate inputs.
        int total = 0;
        for (const Tensor& t : inputs)
            total += t.shape().c;
        const Shape s0 = inputs[0].shape();
        Tensor merged(Shape{s0.n, s0.h, s0.w, total});
        for (int n = 0; n < s0.n; ++n)
            for (int y = 0; y < s0.h; ++y)
                for (int x = 0; x < s0.w; ++x)
                {
                    int c0 = 0;
                    for (const Tensor& t : inputs)
                    {
                        for (int c = 0; c < t.shape().c; ++c)
                            merged.at(n, y, x, c0 + c) = t.at(n, y, x, c);
                        c0 += t.shape().c;
                    }
                }
        ModelSpec split;
        split.name = spec.name;
        split.source = spec.source;
        LayerSpec in;
        in.name = "merged";
        in.class_name = "InputLayer";
        in.config = {{"batch_input_shape", {nullptr, s0.h, s0.w, total}}};
        split.layers.push_back(in);
        int c0 = 0;
        for (std::size_t i = 0; i < inputs.size(); ++i)
        {
            const int c = inputs[i].shape().c;
            LayerSpec select;
            select.name = "input_" + std::to_string(i);
            select.class_name = "Conv2D";
            select.config = {{"filters", c}, {"kernel_size", 1}, {"use_bias", false}};
            select.inputs = {"merged"};
            WeightArray k{"kernel", {1, 1, total, c}, std::vector<float>(total * c, 0.0f)};
            for (int j = 0; j < c; ++j)
                k.values[(c0 + j) * c + j] = 1.0f;
            select.weights.push_back(k);
            split.layers.push_back(select);
            c0 += c;
        }
        for (const LayerSpec& layer : spec.layers)
            if (layer.class_name != "InputLayer")
                split.layers.push_back(layer);
        split.inputs = {"merged"};
        split.outputs = spec.outputs;
        spec = split;
        inputs = {merged};
    }

    const Model model(spec);
    for (KernelKind kind : {KernelKind::reference, KernelKind::fast})
    {
        const char* kind_name = kind == KernelKind::reference ? "reference" : "fast";
        const Tensor got = model.forward(inputs[0], {kind});
        ASSERT_EQ(got.shape(), want.shape()) << name << " " << kind_name;
        float worst = 0.0f;
        std::size_t at = 0;
        for (std::size_t i = 0; i < want.size(); ++i)
        {
            const float e = std::fabs(got.data()[i] - want.data()[i]);
            if (!(e <= worst)) // NaN counts as worst
            {
                worst = std::isnan(e) ? INFINITY : e;
                at = i;
            }
        }
        EXPECT_LE(worst, 1e-4f) << name << " " << kind_name << ": max error " << worst
                                << " at flat index " << at << " (got " << got.data()[at]
                                << ", want " << want.data()[at] << ")";
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenLayer, ::testing::ValuesIn(case_names()),
                         [](const auto& p) { return p.param; });

TEST(GoldenLayerFixtures, ArePresent)
{
    EXPECT_GE(case_names().size(), 28u);
}

TEST(GoldenLayerFixtures, ConvBatchNormIsFolded)
{
    const test::H5Fixture file((k_dir / "conv2d_batch_normalization.h5").string());
    const std::vector<Tensor> inputs{to_tensor(file.array("input"))};
    const Model model(spec_of(file, inputs));
    const auto rows = model.describe(inputs[0].shape());
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].class_name, "Conv2D+BatchNormalization bn");
}

} // namespace
} // namespace atrous::infer
