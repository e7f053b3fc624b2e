// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras HDF5 (save_weights or model.save layout; Keras 2 or Keras 3 legacy names) ->
// ModelSpec with weights attached; Keras 3 .keras and .weights.h5 files are handed to
// keras3_model.cpp.
//
// Layouts (keras/src/legacy/saving/legacy_h5_format.py, tf.keras hdf5_format.py):
//   save_weights: /            attrs layer_names, backend, keras_version
//                 /<layer>     attr weight_names ["<layer>/kernel:0", ...] (Keras 3:
//                              "<layer>/kernel"); the datasets sit at /<layer>/<weight_name>
//   model.save:   /            attrs model_config (JSON), keras_version, backend
//                 /model_weights  the save_weights layout
// Attributes over 64 KiB are split into layer_names0, layer_names1, ... (h5_file.cpp joins them).
#include "keras_h5.hpp"

#include "stages/error.hpp"
#include "stages/infer/import/h5_file.hpp"
#include "stages/infer/import/keras3_archive.hpp"
#include "stages/infer/import/keras3_model.hpp"
#include "stages/infer/import/keras3_weights.hpp"
#include "stages/infer/import/keras_config.hpp"

#include <algorithm>
#include <unordered_map>

namespace atrous::infer
{
namespace
{

/// One layer group of the file with its weight arrays, in the file's order.
struct FileLayer
{
    std::string name;
    std::vector<WeightArray> weights;
};

std::vector<FileLayer> read_weights(const H5File& file, const std::string& root)
{
    const std::string prefix = root == "/" ? "/" : root + "/";
    std::vector<FileLayer> layers;
    for (const std::string& name : file.string_attribute(root, "layer_names"))
    {
        const std::string group = prefix + name;
        if (!file.exists(group))
            throw ModelError(file.where(),
                             "layer group '" + name + "' is listed in layer_names but missing");
        if (!file.has_attribute(group, "weight_names"))
            throw ModelError(file.where(), "layer group '" + name + "' has no weight_names");
        FileLayer layer{name, {}};
        for (const std::string& weight_name : file.string_attribute(group, "weight_names"))
        {
            H5FloatArray array = file.float_dataset(group + "/" + weight_name);
            layer.weights.push_back(
                {short_weight_name(weight_name), std::move(array.shape), std::move(array.values)});
        }
        // Keras skips layers without weights when it matches by order; so do we.
        if (!layer.weights.empty())
            layers.push_back(std::move(layer));
    }
    return layers;
}

/// The weight names a spec layer wants; nullopt when its class is unknown to the importer.
std::optional<std::vector<std::string>> wanted(const LayerSpec& layer)
{
    return keras_weight_names(layer.class_name, layer.config);
}

void attach(LayerSpec& layer, FileLayer&& from, const std::string& path)
{
    const auto names = wanted(layer);
    if (names)
    {
        if (names->size() != from.weights.size())
            throw ModelError("layer " + layer.name,
                             std::to_string(names->size()) + " weight arrays expected (" +
                                 layer.class_name + "), " + std::to_string(from.weights.size()) +
                                 " found in " + path + " layer '" + from.name + "'");
        // Keras loads by position; the canonical names make Keras 1 names ("..._W") and
        // unusual spellings uniform for the engine.
        for (std::size_t i = 0; i < names->size(); ++i)
            from.weights[i].name = (*names)[i];
    }
    layer.weights = std::move(from.weights);
}

/// Matches file layers to spec layers: by name when every weighted file layer names a spec
/// layer; otherwise by the order of weighted layers (what Keras' load_weights does), which needs
/// equal counts.
void attach_weights(ModelSpec& spec, std::vector<FileLayer>&& file_layers, const std::string& path)
{
    std::unordered_map<std::string, LayerSpec*> by_name;
    std::vector<LayerSpec*> weighted;
    for (LayerSpec& layer : spec.layers)
    {
        by_name.emplace(layer.name, &layer);
        const auto names = wanted(layer);
        if (names && !names->empty())
            weighted.push_back(&layer);
    }
    const auto unmatched =
        std::find_if(file_layers.begin(), file_layers.end(),
                     [&](const FileLayer& l) { return by_name.count(l.name) == 0; });
    if (unmatched == file_layers.end())
    {
        for (FileLayer& file_layer : file_layers)
            attach(*by_name.at(file_layer.name), std::move(file_layer), path);
        for (const LayerSpec* layer : weighted)
            if (layer->weights.empty())
                throw ModelError("layer " + layer->name, "no weights for it in " + path);
        return;
    }
    if (file_layers.size() != weighted.size())
    {
        // Name the first model layer the file does not provide (by name), else the first
        // file layer the model lacks.
        for (const LayerSpec* layer : weighted)
            if (std::none_of(file_layers.begin(), file_layers.end(),
                             [&](const FileLayer& l) { return l.name == layer->name; }))
                throw ModelError("layer " + layer->name,
                                 "no weights for it in " + path + " (the file has " +
                                     std::to_string(file_layers.size()) +
                                     " layers with weights, the model " +
                                     std::to_string(weighted.size()) + "; file layer '" +
                                     unmatched->name + "' is not in the model)");
        throw ModelError("layer " + unmatched->name, "in " + path +
                                                         " but not in the model (the file has " +
                                                         std::to_string(file_layers.size()) +
                                                         " layers with weights, the model " +
                                                         std::to_string(weighted.size()) + ")");
    }
    for (std::size_t i = 0; i < weighted.size(); ++i)
        attach(*weighted[i], std::move(file_layers[i]), path);
}

} // namespace

ModelSpec load_keras_h5(const std::filesystem::path& path,
                        const std::optional<Architecture>& architecture)
{
    // Told apart by content, not by name: a zip is a Keras 3 .keras file; an HDF5 file with a
    // /layers group and no layer_names is Keras 3's own weights layout.
    if (is_zip_file(path))
        return load_keras3_archive(path);
    const H5File file(path);
    if (is_keras3_weights_layout(file))
        return load_keras3_weights_file(file, path, architecture);
    std::string root;
    if (file.has_attribute("/", "layer_names"))
        root = "/";
    else if (file.has_attribute("/model_weights", "layer_names"))
        root = "/model_weights";
    else
        throw ModelError(file.where(), "not a Keras model: no layer_names attribute at / or "
                                       "/model_weights");

    ModelSpec spec;
    if (file.has_attribute("/", "model_config"))
    {
        const auto text = file.string_attribute("/", "model_config");
        spec =
            spec_from_model_config_text(text.empty() ? std::string() : text.front(), path.string());
    }
    else if (architecture)
    {
        spec = builtin_model_spec(*architecture);
        spec.source = path.string();
    }
    else
        throw ModelError(file.where(), "no model_config in the file; give model.architecture");

    attach_weights(spec, read_weights(file, root), path.string());
    return spec;
}

} // namespace atrous::infer
