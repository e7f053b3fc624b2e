// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras files run by the engine reproduce PyTorch's outputs (goldens written by
// tools/make_model_fixtures.py, PyTorch in float64), with both kernel families; broken weights
// are refused by the engine naming the layer; the seed U-Net's size and cost.
#include "stages/error.hpp"
#include "stages/infer/engine/model.hpp"
#include "stages/infer/import/h5_file.hpp"
#include "stages/infer/import/keras_h5.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

namespace atrous::infer
{
namespace
{

std::filesystem::path fixture(const std::string& name)
{
    return std::filesystem::path(ATROUS_FIXTURES_DIR) / "models" / name;
}

Tensor read_tensor(const H5File& file, const std::string& name)
{
    const H5FloatArray array = file.float_dataset("/" + name);
    EXPECT_EQ(array.shape.size(), 4u);
    Tensor t(Shape{array.shape[0], array.shape[1], array.shape[2], array.shape[3]});
    std::copy(array.values.begin(), array.values.end(), t.data());
    return t;
}

struct GoldenCase
{
    std::string model;                        // file under tests/fixtures/models
    std::optional<Architecture> architecture; // for save_weights files
    std::string io;                           // <case>_io.h5 with input and output
};

UnetArchitecture unet(int filters, int depth, std::vector<int> dilation, int in_channels = 1,
                      int classes = 1, bool separable = false)
{
    UnetArchitecture a;
    a.filters = filters;
    a.depth = depth;
    a.dilation = std::move(dilation);
    a.in_channels = in_channels;
    a.classes = classes;
    a.separable = separable;
    return a;
}

std::vector<GoldenCase> golden_cases()
{
    return {
        {"tiny_weights.h5", unet(2, 2, {1, 2}), "tiny_io.h5"},
        {"tiny_full.h5", std::nullopt, "tiny_io.h5"},
        {"tiny_renamed_weights.h5", unet(2, 2, {1, 2}), "tiny_io.h5"},
        {"unet_d5_weights.h5", unet(2, 5, {1, 1, 1, 2, 2}), "unet_d5_io.h5"},
        {"unet_d5_full.h5", std::nullopt, "unet_d5_io.h5"},
        {"unet_d5_keras3.h5", std::nullopt, "unet_d5_io.h5"},
        {"unet_rgb3_full.h5", std::nullopt, "unet_rgb3_io.h5"},
        {"unet_sep_full.h5", std::nullopt, "unet_sep_io.h5"},
        {"classifier_weights.h5", ClassifierArchitecture{}, "classifier_io.h5"},
        {"classifier_full.h5", std::nullopt, "classifier_io.h5"},
        // Keras 3's own formats: .keras (model.save) and .weights.h5 (save_weights).
        {"tiny.keras", std::nullopt, "tiny_io.h5"},
        {"unet_d5.keras", std::nullopt, "unet_d5_io.h5"},
        {"unet_d5.weights.h5", unet(2, 5, {1, 1, 1, 2, 2}), "unet_d5_io.h5"},
        {"classifier.keras", std::nullopt, "classifier_io.h5"},
        {"classifier.weights.h5", ClassifierArchitecture{}, "classifier_io.h5"},
    };
}

class ModelGolden : public ::testing::TestWithParam<std::tuple<GoldenCase, KernelKind>>
{
};

TEST_P(ModelGolden, MatchesPyTorch)
{
    const auto& [c, kind] = GetParam();
    const Model model(load_keras_h5(fixture(c.model), c.architecture));
    const H5File io(fixture(c.io));
    const Tensor input = read_tensor(io, "input");
    const Tensor want = read_tensor(io, "output");
    ForwardOptions options;
    options.kernels = kind;
    const Tensor got = model.forward(input, options);
    ASSERT_EQ(got.shape(), want.shape()) << c.model;
    EXPECT_EQ(model.output_shape(input.shape()), want.shape()) << c.model;
    float max_error = 0.0f;
    for (std::size_t i = 0; i < want.size(); ++i)
        max_error = std::max(max_error, std::fabs(got.data()[i] - want.data()[i]));
    EXPECT_LE(max_error, 1e-4f) << c.model << " max abs error vs PyTorch";
}

std::string case_name(const ::testing::TestParamInfo<ModelGolden::ParamType>& info)
{
    std::string name = std::get<0>(info.param).model;
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".h5") == 0)
        name.resize(name.size() - 3);
    // "unet_d5.weights" and "unet_d5_weights" must stay apart.
    for (auto dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot))
        name.replace(dot, 1, "_dot_");
    return name + (std::get<1>(info.param) == KernelKind::reference ? "_reference" : "_fast");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelGolden,
                         ::testing::Combine(::testing::ValuesIn(golden_cases()),
                                            ::testing::Values(KernelKind::reference,
                                                              KernelKind::fast)),
                         case_name);

std::string model_error(const std::string& file)
{
    try
    {
        const Model model(load_keras_h5(fixture(file)));
    }
    catch (const ModelError& e)
    {
        return e.what();
    }
    return "";
}

TEST(ModelGoldenErrors, EngineRefusesWrongShapeAndUnknownClass)
{
    const std::string shape = model_error("broken_wrong_shape_full.h5");
    EXPECT_NE(shape.find("conv2d_1"), std::string::npos) << shape;
    EXPECT_NE(shape.find("(3,3,2,2)"), std::string::npos) << shape;
    EXPECT_NE(shape.find("(3,3,3,2)"), std::string::npos) << shape;
    const std::string unknown = model_error("broken_unknown_class_full.h5");
    EXPECT_NE(unknown.find("FancyPooling2D"), std::string::npos) << unknown;
}

TEST(ModelGoldenErrors, SeedUnetSizeAndCost)
{
    BuildOptions options;
    options.initialize_missing_weights = true;
    const Model model(builtin_model_spec(UnetArchitecture{}), options);
    // zhixuhao/unet at 64 filters: 31,031,685 parameters; its convolutions cost
    // 109.21 GFLOP (multiply-add = 2) on a 256x256x1 tile (tools/seed_models.py counts the same).
    EXPECT_EQ(model.params(), 31031685);
    EXPECT_NEAR(model.flops(Shape{1, 256, 256, 1}) / 1e9, 109.2, 0.05);
}

} // namespace
} // namespace atrous::infer
