// SPDX-License-Identifier: Apache-2.0
// Purpose: the built-in architectures carry the layer names, wiring and configs Keras gives the
// seed's own code, so its save_weights files match by name.
#include "stages/error.hpp"
#include "stages/infer/import/architecture.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace atrous::infer
{
namespace
{

const LayerSpec& layer(const ModelSpec& spec, const std::string& name)
{
    const auto it = std::find_if(spec.layers.begin(), spec.layers.end(),
                                 [&](const LayerSpec& l) { return l.name == name; });
    if (it == spec.layers.end())
        throw std::runtime_error("no layer " + name);
    return *it;
}

std::vector<std::string> names_of_class(const ModelSpec& spec, const std::string& class_name)
{
    std::vector<std::string> names;
    for (const auto& l : spec.layers)
        if (l.class_name == class_name)
            names.push_back(l.name);
    return names;
}

TEST(BuiltinArchitecture, SeedUnetHasKerasLayerCountAndOrder)
{
    const ModelSpec spec = builtin_model_spec(UnetArchitecture{});
    // 1 input + 24 Conv2D + 4 MaxPooling2D + 2 Dropout + 4 UpSampling2D + 4 Concatenate.
    ASSERT_EQ(spec.layers.size(), 39u);
    EXPECT_EQ(names_of_class(spec, "Conv2D").size(), 24u);
    EXPECT_EQ(names_of_class(spec, "Conv2D").back(), "conv2d_23");
    EXPECT_EQ(names_of_class(spec, "MaxPooling2D").back(), "max_pooling2d_3");
    EXPECT_EQ(names_of_class(spec, "Dropout"), (std::vector<std::string>{"dropout", "dropout_1"}));
    EXPECT_EQ(names_of_class(spec, "Concatenate").back(), "concatenate_3");
    EXPECT_EQ(spec.inputs, std::vector<std::string>{"input_1"});
    EXPECT_EQ(spec.outputs, std::vector<std::string>{"conv2d_23"});
    const std::vector<std::string> first = {"input_1",        "conv2d",   "conv2d_1",
                                            "max_pooling2d",  "conv2d_2", "conv2d_3",
                                            "max_pooling2d_1"};
    for (std::size_t i = 0; i < first.size(); ++i)
        EXPECT_EQ(spec.layers[i].name, first[i]) << "at " << i;
    EXPECT_EQ(layer(spec, "input_1").config["batch_input_shape"],
              nlohmann::json::parse("[null, null, null, 1]"));
}

TEST(BuiltinArchitecture, SeedUnetNamesFollowConstructionOrder)
{
    const ModelSpec spec = builtin_model_spec(UnetArchitecture{});
    // Level 5: conv2d_8, conv2d_9 (1024 filters, dilation 2) then dropout_1.
    const LayerSpec& conv9 = layer(spec, "conv2d_9");
    EXPECT_EQ(conv9.config["filters"], 1024);
    EXPECT_EQ(conv9.config["dilation_rate"], nlohmann::json::parse("[2, 2]"));
    EXPECT_EQ(conv9.inputs, std::vector<std::string>{"conv2d_8"});
    EXPECT_EQ(layer(spec, "dropout_1").inputs, std::vector<std::string>{"conv2d_9"});
    EXPECT_EQ(layer(spec, "dropout").config["rate"], 0.5);
    // The 4th pooling reads the level-4 dropout, as pool4 = MaxPooling2D()(drop4).
    EXPECT_EQ(layer(spec, "max_pooling2d_3").inputs, std::vector<std::string>{"dropout"});
    // up6 = Conv2D(512, 2)(UpSampling2D()(drop5)): the Conv2D is constructed first -> conv2d_10.
    EXPECT_EQ(layer(spec, "up_sampling2d").inputs, std::vector<std::string>{"dropout_1"});
    const LayerSpec& up6 = layer(spec, "conv2d_10");
    EXPECT_EQ(up6.inputs, std::vector<std::string>{"up_sampling2d"});
    EXPECT_EQ(up6.config["kernel_size"], nlohmann::json::parse("[2, 2]"));
    EXPECT_EQ(up6.config["filters"], 512);
    EXPECT_EQ(layer(spec, "concatenate").inputs,
              (std::vector<std::string>{"dropout", "conv2d_10"}));
    EXPECT_EQ(layer(spec, "concatenate").config["axis"], 3);
    EXPECT_EQ(layer(spec, "conv2d_11").inputs, std::vector<std::string>{"concatenate"});
    EXPECT_EQ(layer(spec, "conv2d_11").config["dilation_rate"], nlohmann::json::parse("[1, 1]"));
    // Last decoder level concatenates the level-1 conv (no dropout there).
    EXPECT_EQ(layer(spec, "concatenate_3").inputs,
              (std::vector<std::string>{"conv2d_1", "conv2d_19"}));
    EXPECT_EQ(layer(spec, "conv2d_22").config["filters"], 2);
    const LayerSpec& head = layer(spec, "conv2d_23");
    EXPECT_EQ(head.config["kernel_size"], nlohmann::json::parse("[1, 1]"));
    EXPECT_EQ(head.config["activation"], "sigmoid");
    EXPECT_EQ(head.config["padding"], "same");
    EXPECT_EQ(layer(spec, "up_sampling2d_3").config["interpolation"], "nearest");
    for (const auto& l : spec.layers)
        EXPECT_TRUE(l.weights.empty()) << l.name;
}

TEST(BuiltinArchitecture, SeparableUnetNamesSeparableConvsApart)
{
    UnetArchitecture arch;
    arch.separable = true;
    arch.classes = 3;
    arch.in_channels = 4;
    const ModelSpec spec = builtin_model_spec(arch);
    // Every 3x3 convolution (10 encoder, 8 decoder, the final one) is separable; the 2x2 up
    // convolutions and the 1x1 head stay Conv2D.
    const auto separable = names_of_class(spec, "SeparableConv2D");
    ASSERT_EQ(separable.size(), 19u);
    EXPECT_EQ(separable.front(), "separable_conv2d");
    EXPECT_EQ(separable.back(), "separable_conv2d_18");
    EXPECT_EQ(names_of_class(spec, "Conv2D"),
              (std::vector<std::string>{"conv2d", "conv2d_1", "conv2d_2", "conv2d_3", "conv2d_4"}));
    EXPECT_EQ(layer(spec, "separable_conv2d").config["depth_multiplier"], 1);
    EXPECT_EQ(layer(spec, "conv2d").inputs, std::vector<std::string>{"up_sampling2d"});
    EXPECT_EQ(layer(spec, "conv2d_4").config["activation"], "softmax");
    EXPECT_EQ(layer(spec, "conv2d_4").config["filters"], 3);
    EXPECT_EQ(layer(spec, "input_1").config["batch_input_shape"][3], 4);
}

TEST(BuiltinArchitecture, DropoutOnlyAfterDilatedLevels)
{
    UnetArchitecture arch;
    arch.depth = 3;
    arch.dilation = {1, 4, 1};
    arch.filters = 8;
    const ModelSpec spec = builtin_model_spec(arch);
    EXPECT_EQ(names_of_class(spec, "Dropout"), std::vector<std::string>{"dropout"});
    EXPECT_EQ(layer(spec, "dropout").inputs, std::vector<std::string>{"conv2d_3"});
    EXPECT_EQ(layer(spec, "conv2d_3").config["dilation_rate"], nlohmann::json::parse("[4, 4]"));
    EXPECT_EQ(layer(spec, "conv2d_5").config["filters"], 32);
    // Deepest level (no dropout) feeds the first upsampling directly.
    EXPECT_EQ(layer(spec, "up_sampling2d").inputs, std::vector<std::string>{"conv2d_5"});
}

TEST(BuiltinArchitecture, ClassifierSpec)
{
    const ModelSpec spec = builtin_model_spec(ClassifierArchitecture{});
    std::vector<std::string> names;
    for (const auto& l : spec.layers)
        names.push_back(l.name + ":" + l.class_name);
    EXPECT_EQ(names, (std::vector<std::string>{
                         "input_1:InputLayer", "separable_conv2d:SeparableConv2D",
                         "max_pooling2d:MaxPooling2D", "separable_conv2d_1:SeparableConv2D",
                         "max_pooling2d_1:MaxPooling2D", "flatten:Flatten", "dropout:Dropout",
                         "dense:Dense"}));
    EXPECT_EQ(layer(spec, "input_1").config["batch_input_shape"],
              nlohmann::json::parse("[null, 28, 28, 1]"));
    EXPECT_EQ(layer(spec, "separable_conv2d_1").config["filters"], 64);
    EXPECT_EQ(layer(spec, "dense").config["units"], 10);
    EXPECT_EQ(layer(spec, "dense").config["activation"], "softmax");
    EXPECT_EQ(spec.outputs, std::vector<std::string>{"dense"});
}

TEST(BuiltinArchitecture, RejectsInconsistentUnet)
{
    UnetArchitecture arch;
    arch.dilation = {1, 2};
    try
    {
        builtin_model_spec(arch);
        FAIL() << "no error";
    }
    catch (const ModelError& e)
    {
        EXPECT_STREQ(e.what(), "builtin unet: one dilation per level expected (5), 2 found");
    }
    arch = UnetArchitecture{};
    arch.filters = 0;
    EXPECT_THROW(builtin_model_spec(arch), ModelError);
    arch = UnetArchitecture{};
    arch.dropout = 1.0;
    EXPECT_THROW(builtin_model_spec(arch), ModelError);
}

} // namespace
} // namespace atrous::infer
