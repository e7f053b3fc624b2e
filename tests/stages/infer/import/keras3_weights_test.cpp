// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras 3's weights layout (layers/<class path>/vars/N): paths named the way Keras
// names them, weights equal to the legacy files' for the same network, and files that do not
// fit the model refused naming the layer or the group. Fixtures: tools/make_model_fixtures.py.
#include "stages/error.hpp"
#include "stages/infer/import/keras3_weights.hpp"
#include "stages/infer/import/keras_h5.hpp"
#include "tests/support/model_fixtures.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace atrous::infer
{
namespace
{

using test::fixture;

using test::model_error;

UnetArchitecture unet(int filters, int depth, std::vector<int> dilation)
{
    UnetArchitecture a;
    a.filters = filters;
    a.depth = depth;
    a.dilation = std::move(dilation);
    return a;
}

/// Same layer names, and the same weights (names, shapes, values) on every layer.
void expect_same_weights(const ModelSpec& a, const ModelSpec& b)
{
    ASSERT_EQ(a.layers.size(), b.layers.size());
    for (std::size_t i = 0; i < a.layers.size(); ++i)
    {
        const LayerSpec& x = a.layers[i];
        const LayerSpec& y = b.layers[i];
        EXPECT_EQ(x.name, y.name);
        ASSERT_EQ(x.weights.size(), y.weights.size()) << x.name;
        for (std::size_t j = 0; j < x.weights.size(); ++j)
        {
            EXPECT_EQ(x.weights[j].name, y.weights[j].name) << x.name;
            EXPECT_EQ(x.weights[j].shape, y.weights[j].shape) << x.name;
            EXPECT_EQ(x.weights[j].values, y.weights[j].values) << x.name;
        }
    }
}

TEST(Keras3Weights, SnakeCaseAsKerasNamesItsEntries)
{
    EXPECT_EQ(keras_snake_case("Conv2D"), "conv2d");
    EXPECT_EQ(keras_snake_case("SeparableConv2D"), "separable_conv2d");
    EXPECT_EQ(keras_snake_case("MaxPooling2D"), "max_pooling2d");
    EXPECT_EQ(keras_snake_case("UpSampling2D"), "up_sampling2d");
    EXPECT_EQ(keras_snake_case("InputLayer"), "input_layer");
    EXPECT_EQ(keras_snake_case("BatchNormalization"), "batch_normalization");
    EXPECT_EQ(keras_snake_case("Conv2DTranspose"), "conv2d_transpose");
    EXPECT_EQ(keras_snake_case("ReLU"), "re_lu");
    EXPECT_EQ(keras_snake_case("PReLU"), "p_re_lu");
}

TEST(Keras3Weights, SaveWeightsFileEqualsTheLegacyOne)
{
    const auto arch = unet(2, 5, {1, 1, 1, 2, 2});
    const ModelSpec k3 = load_keras_h5(fixture("unet_d5.weights.h5"), arch);
    EXPECT_EQ(k3.source, fixture("unet_d5.weights.h5").string());
    expect_same_weights(k3, load_keras_h5(fixture("unet_d5_weights.h5"), arch));
    // The classifier: SeparableConv2D's vars 0, 1, 2 are its depthwise and pointwise kernels
    // and its bias; Dense's its kernel and bias.
    const ModelSpec classifier =
        load_keras_h5(fixture("classifier.weights.h5"), ClassifierArchitecture{});
    expect_same_weights(classifier,
                        load_keras_h5(fixture("classifier_weights.h5"), ClassifierArchitecture{}));
    const LayerSpec& sep = classifier.layers[3];
    ASSERT_EQ(sep.name, "separable_conv2d_1");
    ASSERT_EQ(sep.weights.size(), 3u);
    EXPECT_EQ(sep.weights[0].name, "depthwise_kernel");
    EXPECT_EQ(sep.weights[0].shape, (std::vector<int>{3, 3, 32, 1}));
    EXPECT_EQ(sep.weights[1].name, "pointwise_kernel");
    EXPECT_EQ(sep.weights[1].shape, (std::vector<int>{1, 1, 32, 64}));
    EXPECT_EQ(sep.weights[2].name, "bias");
}

TEST(Keras3Weights, PathsFollowClassesNotLayerNames)
{
    // Layers named conv2d_7, conv2d_8, ... (built after others in one Keras session) still
    // store their weights under layers/conv2d, layers/conv2d_1, ...
    const ModelSpec renamed = load_keras_h5(fixture("tiny_renamed.keras"));
    const ModelSpec plain = load_keras_h5(fixture("tiny.keras"));
    ASSERT_EQ(renamed.layers.size(), plain.layers.size());
    EXPECT_EQ(renamed.layers[1].name, "conv2d_7");
    for (std::size_t i = 0; i < plain.layers.size(); ++i)
    {
        EXPECT_EQ(renamed.layers[i].class_name, plain.layers[i].class_name);
        ASSERT_EQ(renamed.layers[i].weights.size(), plain.layers[i].weights.size());
        for (std::size_t j = 0; j < plain.layers[i].weights.size(); ++j)
            EXPECT_EQ(renamed.layers[i].weights[j].values, plain.layers[i].weights[j].values)
                << renamed.layers[i].name;
    }
}

TEST(Keras3Weights, FilesThatDoNotFitTheModelNameTheCulprit)
{
    const auto tiny = unet(2, 2, {1, 2});
    const std::string plain = fixture("unet_d5.weights.h5").string();
    EXPECT_EQ(model_error([&] { load_keras_h5(plain); }),
              "model " + plain +
                  ": Keras 3 weights file (save_weights) without a model config; give "
                  "model.architecture");
    const std::string missing = fixture("broken_missing_layer.weights.h5").string();
    EXPECT_EQ(model_error([&] { load_keras_h5(missing, tiny); }),
              "layer conv2d_8: no weights for it in " + missing +
                  " (/layers/conv2d_8/vars is missing or empty)");
    const std::string extra = fixture("broken_extra_layer.weights.h5").string();
    EXPECT_EQ(model_error([&] { load_keras_h5(extra, tiny); }),
              "model " + extra +
                  ": /layers/conv2d_9 holds weights, but no layer of the model maps to it; the "
                  "model has fewer layers of that class than the file");
    // The weights of another architecture: its first weighted layer finds no group.
    EXPECT_EQ(model_error([&] { load_keras_h5(plain, ClassifierArchitecture{}); }),
              "layer separable_conv2d: no weights for it in " + plain +
                  " (/layers/separable_conv2d/vars is missing or empty)");
}

} // namespace
} // namespace atrous::infer
