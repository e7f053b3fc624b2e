// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras 3 .keras files load to the graph and weights of the legacy files written from
// the same network, run to identical outputs, and fail with the legacy files' messages on a
// wrong shape or an unknown layer. Fixtures: tools/make_model_fixtures.py.
#include "stages/error.hpp"
#include "stages/infer/engine/model.hpp"
#include "stages/infer/import/h5_file.hpp"
#include "stages/infer/import/keras3_model.hpp"
#include "stages/infer/import/keras_h5.hpp"
#include "tests/support/model_fixtures.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <zip.h>

namespace atrous::infer
{
namespace
{

using test::fixture;

using test::model_error;

Tensor read_input(const std::string& io_file)
{
    const H5File io(fixture(io_file));
    const H5FloatArray array = io.float_dataset("/input");
    Tensor t(Shape{array.shape[0], array.shape[1], array.shape[2], array.shape[3]});
    std::copy(array.values.begin(), array.values.end(), t.data());
    return t;
}

/// Same layers, classes, wiring, and weights.
void expect_same_model(const ModelSpec& a, const ModelSpec& b)
{
    ASSERT_EQ(a.layers.size(), b.layers.size());
    for (std::size_t i = 0; i < a.layers.size(); ++i)
    {
        const LayerSpec& x = a.layers[i];
        const LayerSpec& y = b.layers[i];
        EXPECT_EQ(x.name, y.name) << "at " << i;
        EXPECT_EQ(x.class_name, y.class_name) << x.name;
        EXPECT_EQ(x.inputs, y.inputs) << x.name;
        ASSERT_EQ(x.weights.size(), y.weights.size()) << x.name;
        for (std::size_t j = 0; j < x.weights.size(); ++j)
        {
            EXPECT_EQ(x.weights[j].name, y.weights[j].name) << x.name;
            EXPECT_EQ(x.weights[j].shape, y.weights[j].shape) << x.name;
            EXPECT_EQ(x.weights[j].values, y.weights[j].values) << x.name;
        }
    }
    EXPECT_EQ(a.inputs, b.inputs);
    EXPECT_EQ(a.outputs, b.outputs);
}

TEST(Keras3Model, FunctionalKerasFileEqualsTheLegacyFile)
{
    // unet_d5_keras3.h5: the same network in the legacy layout with Keras 3 names.
    const ModelSpec k3 = load_keras_h5(fixture("unet_d5.keras"));
    EXPECT_EQ(k3.source, fixture("unet_d5.keras").string());
    EXPECT_EQ(k3.name, "functional");
    expect_same_model(k3, load_keras_h5(fixture("unet_d5_keras3.h5")));
}

TEST(Keras3Model, SequentialKerasFileEqualsTheLegacyFile)
{
    // The classifier saved as Keras' SeparableConv2D example builds it: a Sequential model,
    // whose weights tree leaves out the InputLayer.
    const ModelSpec k3 = load_keras_h5(fixture("classifier.keras"));
    EXPECT_EQ(k3.name, "sequential");
    EXPECT_EQ(k3.inputs, std::vector<std::string>{"input_layer"});
    const ModelSpec legacy = load_keras_h5(fixture("classifier_full.h5"));
    ASSERT_EQ(k3.layers.size(), legacy.layers.size());
    for (std::size_t i = 1; i < k3.layers.size(); ++i)
    {
        EXPECT_EQ(k3.layers[i].name, legacy.layers[i].name);
        EXPECT_EQ(k3.layers[i].class_name, legacy.layers[i].class_name);
        ASSERT_EQ(k3.layers[i].weights.size(), legacy.layers[i].weights.size());
        for (std::size_t j = 0; j < k3.layers[i].weights.size(); ++j)
            EXPECT_EQ(k3.layers[i].weights[j].values, legacy.layers[i].weights[j].values);
    }
}

struct SameNetwork
{
    std::string keras3;                       // .keras or .weights.h5
    std::string legacy;                       // the legacy .h5 of the same weights
    std::optional<Architecture> architecture; // for the weights-only files
    std::string io;                           // the input to run
};

TEST(Keras3Model, ForwardEqualsTheLegacyFileExactly)
{
    UnetArchitecture d5;
    d5.filters = 2;
    const std::vector<SameNetwork> cases = {
        {"unet_d5.keras", "unet_d5_full.h5", std::nullopt, "unet_d5_io.h5"},
        {"unet_d5.weights.h5", "unet_d5_weights.h5", d5, "unet_d5_io.h5"},
        {"classifier.keras", "classifier_full.h5", std::nullopt, "classifier_io.h5"},
        {"classifier.weights.h5", "classifier_weights.h5", ClassifierArchitecture{},
         "classifier_io.h5"},
        {"tiny.keras", "tiny_full.h5", std::nullopt, "tiny_io.h5"},
        {"tiny_renamed.keras", "tiny_full.h5", std::nullopt, "tiny_io.h5"},
    };
    for (const SameNetwork& c : cases)
    {
        const Model keras3(load_keras_h5(fixture(c.keras3), c.architecture));
        const Model legacy(load_keras_h5(fixture(c.legacy), c.architecture));
        const Tensor input = read_input(c.io);
        const Tensor a = keras3.forward(input);
        const Tensor b = legacy.forward(input);
        ASSERT_EQ(a.shape(), b.shape()) << c.keras3;
        EXPECT_TRUE(std::equal(a.data(), a.data() + a.size(), b.data())) << c.keras3;
    }
}

/// The engine's message for `file`, with the file's path replaced by "<file>".
std::string engine_error(const std::string& file)
{
    std::string error = model_error([&] { const Model model(load_keras_h5(fixture(file))); });
    const std::string path = fixture(file).string();
    for (auto at = error.find(path); at != std::string::npos; at = error.find(path, at))
        error.replace(at, path.size(), "<file>");
    return error;
}

TEST(Keras3Model, WrongShapeAndUnknownLayerReadAsForLegacyFiles)
{
    const std::string shape = engine_error("broken_wrong_shape.keras");
    EXPECT_EQ(shape, engine_error("broken_wrong_shape_full.h5"));
    EXPECT_NE(shape.find("layer conv2d_1: "), std::string::npos) << shape;
    EXPECT_NE(shape.find("(3,3,2,2) expected, (3,3,3,2) found"), std::string::npos) << shape;
    const std::string unknown = engine_error("broken_unknown_class.keras");
    EXPECT_EQ(unknown, engine_error("broken_unknown_class_full.h5"));
    EXPECT_NE(unknown.find("FancyPooling2D"), std::string::npos) << unknown;
}

/// Writes a zip of `entries` (name, bytes) with libzip, deflated, into the temporary directory.
std::filesystem::path write_zip(const std::string& name,
                                const std::vector<std::pair<std::string, std::string>>& entries)
{
    const auto path = std::filesystem::path(::testing::TempDir()) / name;
    int code = 0;
    zip_t* zip = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (zip == nullptr)
        throw std::runtime_error("cannot create " + path.string());
    for (const auto& [entry, bytes] : entries)
    {
        zip_source_t* source = zip_source_buffer(zip, bytes.data(), bytes.size(), 0);
        if (source == nullptr || zip_file_add(zip, entry.c_str(), source, ZIP_FL_ENC_UTF_8) < 0)
            throw std::runtime_error("cannot add " + entry);
    }
    if (zip_close(zip) != 0) // reads the buffers now: `entries` is still alive
        throw std::runtime_error("cannot write " + path.string());
    return path;
}

std::string file_text(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Keras3Model, EntryErrorsNameFileAndEntry)
{
    const KerasArchive good = read_keras_archive(fixture("tiny.keras"));
    const std::string weights(good.weights_h5.begin(), good.weights_h5.end());
    const auto not_json = write_zip(
        "not_json.keras", {{"config.json", "{\"class_name\": "}, {"model.weights.h5", weights}});
    const std::string json = model_error([&] { load_keras_h5(not_json); });
    EXPECT_EQ(
        json.rfind("model " + not_json.string() + ": entry config.json: model_config is not JSON: ",
                   0),
        0u)
        << json;
    const auto not_hdf5 = write_zip("not_hdf5.keras", {{"config.json", good.config_json},
                                                       {"model.weights.h5", "not HDF5 at all"}});
    EXPECT_EQ(model_error([&] { load_keras_h5(not_hdf5); }),
              "model " + not_hdf5.string() +
                  ": entry model.weights.h5: not an HDF5 file (no HDF5 signature)");
    // The legacy layout inside a .keras file.
    const auto legacy = write_zip("legacy_inside.keras",
                                  {{"config.json", good.config_json},
                                   {"model.weights.h5", file_text(fixture("tiny_weights.h5"))}});
    EXPECT_EQ(model_error([&] { load_keras_h5(legacy); }),
              "model " + legacy.string() +
                  ": entry model.weights.h5: no /layers group; Keras 3's weights layout "
                  "(layers/<name>/vars/0, ...) expected");
    const auto no_config = write_zip("no_config.keras", {{"model.weights.h5", weights}});
    EXPECT_EQ(model_error([&] { load_keras_h5(no_config); }),
              "model " + no_config.string() +
                  ": entry config.json is missing; a Keras 3 .keras file (model.save) expected");
    // A deflated copy of a good file loads (zip -r style archives).
    const auto deflated = write_zip("deflated.keras", {{"metadata.json", good.metadata_json},
                                                       {"config.json", good.config_json},
                                                       {"model.weights.h5", weights}});
    EXPECT_EQ(load_keras_h5(deflated).layers.size(),
              load_keras_h5(fixture("tiny.keras")).layers.size());
}

} // namespace
} // namespace atrous::infer
