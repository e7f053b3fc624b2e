// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras HDF5 files (both layouts, Keras 2 and 3 names) load to the same ModelSpec;
// broken files fail with a ModelError naming the culprit. Fixtures: tools/make_model_fixtures.py.
#include "stages/error.hpp"
#include "stages/infer/import/keras_h5.hpp"
#include "tests/support/model_fixtures.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace atrous::infer
{
namespace
{

using test::fixture;

UnetArchitecture tiny_arch()
{
    UnetArchitecture a;
    a.filters = 2;
    a.depth = 2;
    a.dilation = {1, 2};
    return a;
}

UnetArchitecture unet_d5_arch()
{
    UnetArchitecture a;
    a.filters = 2;
    return a;
}

const LayerSpec& layer(const ModelSpec& spec, const std::string& name)
{
    const auto it = std::find_if(spec.layers.begin(), spec.layers.end(),
                                 [&](const LayerSpec& l) { return l.name == name; });
    if (it == spec.layers.end())
        throw std::runtime_error("no layer " + name);
    return *it;
}

/// The weighted layers' weights, in order, must be identical.
void expect_same_weights(const ModelSpec& a, const ModelSpec& b)
{
    std::vector<const LayerSpec*> wa, wb;
    for (const auto& l : a.layers)
        if (!l.weights.empty())
            wa.push_back(&l);
    for (const auto& l : b.layers)
        if (!l.weights.empty())
            wb.push_back(&l);
    ASSERT_EQ(wa.size(), wb.size());
    for (std::size_t i = 0; i < wa.size(); ++i)
    {
        ASSERT_EQ(wa[i]->weights.size(), wb[i]->weights.size()) << wa[i]->name;
        for (std::size_t j = 0; j < wa[i]->weights.size(); ++j)
        {
            const WeightArray& x = wa[i]->weights[j];
            const WeightArray& y = wb[i]->weights[j];
            EXPECT_EQ(x.name, y.name) << wa[i]->name;
            EXPECT_EQ(x.shape, y.shape) << wa[i]->name << " " << x.name;
            EXPECT_EQ(x.values, y.values) << wa[i]->name << " " << x.name;
        }
    }
}

/// Same layers, classes, wiring and Keras configs.
void expect_same_graph(const ModelSpec& a, const ModelSpec& b)
{
    ASSERT_EQ(a.layers.size(), b.layers.size());
    for (std::size_t i = 0; i < a.layers.size(); ++i)
    {
        EXPECT_EQ(a.layers[i].name, b.layers[i].name) << "at " << i;
        EXPECT_EQ(a.layers[i].class_name, b.layers[i].class_name) << a.layers[i].name;
        EXPECT_EQ(a.layers[i].inputs, b.layers[i].inputs) << a.layers[i].name;
        EXPECT_EQ(a.layers[i].config, b.layers[i].config) << a.layers[i].name;
    }
    EXPECT_EQ(a.inputs, b.inputs);
    EXPECT_EQ(a.outputs, b.outputs);
}

using test::model_error;

TEST(KerasH5, SaveWeightsLayoutTakesTheBuiltinGraph)
{
    const ModelSpec spec = load_keras_h5(fixture("unet_d5_weights.h5"), unet_d5_arch());
    EXPECT_EQ(spec.source, fixture("unet_d5_weights.h5").string());
    ASSERT_EQ(spec.layers.size(), 39u);
    const LayerSpec& conv = layer(spec, "conv2d");
    ASSERT_EQ(conv.weights.size(), 2u);
    EXPECT_EQ(conv.weights[0].name, "kernel");
    EXPECT_EQ(conv.weights[0].shape, (std::vector<int>{3, 3, 1, 2}));
    EXPECT_EQ(conv.weights[0].values.size(), 18u);
    EXPECT_EQ(conv.weights[1].name, "bias");
    EXPECT_EQ(conv.weights[1].shape, (std::vector<int>{2}));
    EXPECT_EQ(layer(spec, "conv2d_9").weights[0].shape, (std::vector<int>{3, 3, 32, 32}));
    EXPECT_EQ(layer(spec, "conv2d_10").weights[0].shape, (std::vector<int>{2, 2, 32, 16}));
    EXPECT_EQ(layer(spec, "conv2d_23").weights[0].shape, (std::vector<int>{1, 1, 2, 1}));
    EXPECT_TRUE(layer(spec, "dropout").weights.empty());
}

TEST(KerasH5, FullLayoutMatchesTheBuiltinArchitecture)
{
    // The file's model_config (written by tools/seed_models.py) and builtin_model_spec agree on
    // every name, wire and config key; the weights are those of the save_weights file.
    const ModelSpec full = load_keras_h5(fixture("unet_d5_full.h5"));
    expect_same_graph(full, builtin_model_spec(unet_d5_arch()));
    EXPECT_EQ(full.name, "model");
    expect_same_weights(full, load_keras_h5(fixture("unet_d5_weights.h5"), unet_d5_arch()));
}

TEST(KerasH5, OtherCasesMatchTheirBuiltinArchitectures)
{
    UnetArchitecture rgb;
    rgb.filters = 4;
    rgb.depth = 4;
    rgb.dilation = {1, 1, 2, 2};
    rgb.in_channels = 3;
    rgb.classes = 3;
    expect_same_graph(load_keras_h5(fixture("unet_rgb3_full.h5")), builtin_model_spec(rgb));
    UnetArchitecture sep;
    sep.filters = 4;
    sep.separable = true;
    const ModelSpec sep_spec = load_keras_h5(fixture("unet_sep_full.h5"));
    expect_same_graph(sep_spec, builtin_model_spec(sep));
    const LayerSpec& s = layer(sep_spec, "separable_conv2d_3");
    ASSERT_EQ(s.weights.size(), 3u);
    EXPECT_EQ(s.weights[0].name, "depthwise_kernel");
    EXPECT_EQ(s.weights[0].shape, (std::vector<int>{3, 3, 8, 1}));
    EXPECT_EQ(s.weights[1].name, "pointwise_kernel");
    EXPECT_EQ(s.weights[1].shape, (std::vector<int>{1, 1, 8, 8}));
    EXPECT_EQ(s.weights[2].name, "bias");
    expect_same_graph(load_keras_h5(fixture("tiny_full.h5")), builtin_model_spec(tiny_arch()));
}

TEST(KerasH5, ClassifierWithSplitLayerNamesAndFixedLengthConfig)
{
    // classifier_weights.h5 splits layer_names into layer_names0/1 as Keras does past 64 KiB;
    // classifier_full.h5 stores model_config as a fixed-length string.
    const ModelSpec weights =
        load_keras_h5(fixture("classifier_weights.h5"), ClassifierArchitecture{});
    const ModelSpec full = load_keras_h5(fixture("classifier_full.h5"));
    expect_same_graph(full, builtin_model_spec(ClassifierArchitecture{}));
    expect_same_weights(full, weights);
    EXPECT_EQ(layer(full, "dense").weights[0].shape, (std::vector<int>{7 * 7 * 64, 10}));
}

TEST(KerasH5, Keras3NamesLoadLikeKeras2)
{
    const ModelSpec k3 = load_keras_h5(fixture("unet_d5_keras3.h5"));
    const ModelSpec k2 = load_keras_h5(fixture("unet_d5_full.h5"));
    expect_same_weights(k3, k2);
    ASSERT_EQ(k3.layers.size(), k2.layers.size());
    EXPECT_EQ(k3.inputs, std::vector<std::string>{"input_layer"});
    const LayerSpec& input = layer(k3, "input_layer");
    EXPECT_EQ(input.class_name, "InputLayer");
    EXPECT_EQ(input.config["batch_input_shape"], nlohmann::json::parse("[null,null,null,1]"));
    for (std::size_t i = 1; i < k3.layers.size(); ++i)
    {
        EXPECT_EQ(k3.layers[i].name, k2.layers[i].name);
        EXPECT_EQ(k3.layers[i].class_name, k2.layers[i].class_name);
        EXPECT_EQ(k3.layers[i].config.value("filters", 0), k2.layers[i].config.value("filters", 0));
    }
    EXPECT_EQ(layer(k3, "concatenate_2").inputs,
              (std::vector<std::string>{"conv2d_3", "conv2d_16"}));
    EXPECT_EQ(layer(k3, "conv2d").inputs, std::vector<std::string>{"input_layer"});
}

TEST(KerasH5, MatchesByOrderWhenNamesDiffer)
{
    // Same weights saved under conv2d_7, conv2d_8, ... (a model built after others in one
    // Keras session): matched by the order of weighted layers, as Keras' load_weights does.
    const ModelSpec renamed = load_keras_h5(fixture("tiny_renamed_weights.h5"), tiny_arch());
    const ModelSpec named = load_keras_h5(fixture("tiny_weights.h5"), tiny_arch());
    expect_same_weights(renamed, named);
    EXPECT_EQ(renamed.layers[1].name, "conv2d"); // the graph keeps the architecture's names
}

TEST(KerasH5, PassesUnknownClassesAndShapesToTheEngine)
{
    // Layer semantics and shapes are the engine's to check; the importer carries them over.
    const ModelSpec unknown = load_keras_h5(fixture("broken_unknown_class_full.h5"));
    EXPECT_EQ(layer(unknown, "max_pooling2d").class_name, "FancyPooling2D");
    const ModelSpec shape = load_keras_h5(fixture("broken_wrong_shape_full.h5"));
    EXPECT_EQ(layer(shape, "conv2d_1").weights[0].shape, (std::vector<int>{3, 3, 3, 2}));
}

TEST(KerasH5, BrokenFilesNameTheCulprit)
{
    const auto path = [](const std::string& n) { return fixture(n).string(); };
    EXPECT_EQ(model_error(
                  [&] { load_keras_h5(fixture("broken_missing_layer_weights.h5"), tiny_arch()); }),
              "layer conv2d_2: no weights for it in " + path("broken_missing_layer_weights.h5"));
    EXPECT_EQ(
        model_error([&] { load_keras_h5(fixture("broken_extra_layer_weights.h5"), tiny_arch()); }),
        "layer conv2d_99: in " + path("broken_extra_layer_weights.h5") +
            " but not in the model (the file has 10 layers with weights, the model 9)");
    EXPECT_EQ(model_error([&] { load_keras_h5(fixture("broken_weight_count_full.h5")); }),
              "layer conv2d_1: 2 weight arrays expected (Conv2D), 1 found in " +
                  path("broken_weight_count_full.h5") + " layer 'conv2d_1'");
    EXPECT_EQ(model_error([&] { load_keras_h5(fixture("broken_cycle_full.h5")); }),
              "layer conv2d: the layer graph has a cycle: conv2d -> conv2d_1 -> conv2d");
    EXPECT_EQ(model_error([&] { load_keras_h5(fixture("broken_unknown_input_full.h5")); }),
              "layer concatenate: input 'conv2d_42' is not a layer of the model");
    EXPECT_EQ(model_error([&] { load_keras_h5(fixture("tiny_weights.h5")); }),
              "model " + path("tiny_weights.h5") +
                  ": no model_config in the file; give model.architecture");
    EXPECT_EQ(model_error([&] { load_keras_h5(fixture("not_keras.h5")); }),
              "model " + path("not_keras.h5") +
                  ": not a Keras model: no layer_names attribute at / or /model_weights");
    EXPECT_EQ(model_error([&] { load_keras_h5(fixture("not_hdf5.h5")); }),
              "model " + path("not_hdf5.h5") + ": not an HDF5 file (no HDF5 signature)");
    EXPECT_EQ(model_error([&] { load_keras_h5(fixture("no_such_file.h5")); }),
              "model " + path("no_such_file.h5") + ": no such file");
    const std::string truncated = model_error([&] { load_keras_h5(fixture("truncated_full.h5")); });
    EXPECT_EQ(truncated.rfind("model " + path("truncated_full.h5") +
                                  ": cannot be opened as HDF5; truncated or damaged?",
                              0),
              0u)
        << truncated;
    EXPECT_NE(truncated.find("truncated file"), std::string::npos) << truncated;
    const std::string json = model_error([&] { load_keras_h5(fixture("broken_json_full.h5")); });
    EXPECT_EQ(json.rfind("model " + path("broken_json_full.h5") + ": model_config is not JSON", 0),
              0u)
        << json;
}

TEST(KerasH5, DamagedHeadersAreRefusedBeforeTheyCostMemoryOrTime)
{
    // Inputs the fuzz target keras_h5_fuzz found or needed (tests/fuzz/regressions/keras_h5/).
    const auto regression = [](const std::string& n)
    {
        return std::filesystem::path(ATROUS_FIXTURES_DIR).parent_path() / "fuzz" / "regressions" /
               "keras_h5" / n;
    };
    const auto huge = regression("huge_declared_dataset.h5");
    EXPECT_EQ(model_error([&] { load_keras_h5(huge); }),
              "model " + huge.string() +
                  ": dataset /model_weights/conv2d_1/conv2d_1/kernel:0: shape (1000000,1000000,1,1)"
                  " of 4-byte values declared, more than the 8875-byte file holds");
    // HDF5 1.10 loops forever on this global heap (an object of size 0 at index 0).
    const auto loop = regression("global_heap_endless_loop.h5");
    EXPECT_EQ(model_error([&] { load_keras_h5(loop); }),
              "model " + loop.string() +
                  ": global heap at byte 2048: object 0 of 0 bytes does not fit; damaged file");
}

TEST(KerasH5, ModelConfigWinsOverTheGivenArchitecture)
{
    // A model.save file describes itself; a mismatching architecture is ignored.
    const ModelSpec spec = load_keras_h5(fixture("tiny_full.h5"), ClassifierArchitecture{});
    EXPECT_EQ(spec.layers.size(), builtin_model_spec(tiny_arch()).layers.size());
}

} // namespace
} // namespace atrous::infer
