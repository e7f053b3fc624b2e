// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras `model_config` JSON -> ModelSpec graph; Keras weight naming rules.
#include "keras_config.hpp"

#include "stages/error.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace atrous::infer
{
namespace
{

using nlohmann::json;

std::string layer_name_of(const json& layer, const std::string& where)
{
    if (layer.contains("name") && layer["name"].is_string())
        return layer["name"].get<std::string>();
    if (layer.contains("config") && layer["config"].contains("name") &&
        layer["config"]["name"].is_string())
        return layer["config"]["name"].get<std::string>();
    throw ModelError(where, "model_config has a layer without a name");
}

/// Keras 3 serializes every tensor argument as {"class_name": "__keras_tensor__", "config":
/// {"keras_history": [layer, node, tensor]}}; collect them from any nesting (Concatenate gets a
/// list of them as its first argument).
void collect_keras3_tensors(const json& value, std::vector<std::string>& names)
{
    if (value.is_object())
    {
        if (value.value("class_name", "") == "__keras_tensor__")
        {
            const json& history = value.at("config").at("keras_history");
            names.push_back(history.at(0).get<std::string>());
            return;
        }
        for (const auto& item : value.items())
            collect_keras3_tensors(item.value(), names);
    }
    else if (value.is_array())
    {
        for (const auto& item : value)
            collect_keras3_tensors(item, names);
    }
}

std::vector<std::string> inbound_names(const json& layer, const std::string& name)
{
    std::vector<std::string> names;
    if (!layer.contains("inbound_nodes"))
        return names;
    const json& nodes = layer["inbound_nodes"];
    if (!nodes.is_array())
        throw ModelError("layer " + name, "inbound_nodes is not a list");
    if (nodes.size() > 1)
        throw ModelError("layer " + name,
                         "called " + std::to_string(nodes.size()) +
                             " times in the model; shared layers are not supported");
    if (nodes.empty())
        return names;
    const json& node = nodes[0];
    if (node.is_object()) // Keras 3
    {
        if (node.contains("args"))
            collect_keras3_tensors(node["args"], names);
        return names;
    }
    if (!node.is_array()) // Keras 2: [["name", node_index, tensor_index, {kwargs}], ...]
        throw ModelError("layer " + name, "inbound node is neither a list nor an object");
    for (const json& ref : node)
    {
        if (!ref.is_array() || ref.empty() || !ref[0].is_string())
            throw ModelError("layer " + name, "inbound node entry is not [name, node, tensor]");
        names.push_back(ref[0].get<std::string>());
    }
    return names;
}

/// input_layers / output_layers: [["name", 0, 0], ...], or one flat ["name", 0, 0] (Keras 2.13+
/// and Keras 3 for a single tensor), or a dict of those (Keras 3 dict inputs).
std::vector<std::string> tensor_refs(const json& refs, const std::string& where,
                                     const std::string& key)
{
    std::vector<std::string> names;
    if (refs.is_array() && !refs.empty() && refs[0].is_string())
        return {refs[0].get<std::string>()};
    if (refs.is_object())
    {
        for (const auto& item : refs.items())
        {
            auto more = tensor_refs(item.value(), where, key);
            names.insert(names.end(), more.begin(), more.end());
        }
        return names;
    }
    if (!refs.is_array())
        throw ModelError(where, "model_config " + key + " is not a list");
    for (const json& ref : refs)
    {
        auto more = tensor_refs(ref, where, key);
        names.insert(names.end(), more.begin(), more.end());
    }
    return names;
}

void reject_unrepresentable(const LayerSpec& layer)
{
    static const std::set<std::string> nested = {"Functional", "Model", "Sequential"};
    static const std::set<std::string> code = {"Lambda", "TFOpLambda", "SlicingOpLambda"};
    if (nested.count(layer.class_name) != 0)
        throw ModelError("layer " + layer.name, "is a nested " + layer.class_name +
                                                    " model; nested models are not supported");
    if (code.count(layer.class_name) != 0)
        throw ModelError("layer " + layer.name,
                         layer.class_name + " holds Python code; it cannot be imported");
}

LayerSpec layer_from_json(const json& layer, const std::string& where)
{
    if (!layer.is_object() || !layer.contains("class_name") || !layer["class_name"].is_string())
        throw ModelError(where, "model_config has a layer without class_name");
    LayerSpec spec;
    spec.name = layer_name_of(layer, where);
    spec.class_name = layer["class_name"].get<std::string>();
    spec.config = layer.value("config", json::object());
    if (!spec.config.is_object())
        throw ModelError("layer " + spec.name, "config is not an object");
    spec.config["name"] = spec.name;
    // Keras 3 names the input shape `batch_shape`; Keras 2 `batch_input_shape`. Give both so
    // the engine reads one key.
    if (spec.class_name == "InputLayer" && spec.config.contains("batch_shape") &&
        !spec.config.contains("batch_input_shape"))
        spec.config["batch_input_shape"] = spec.config["batch_shape"];
    reject_unrepresentable(spec);
    return spec;
}

ModelSpec functional_spec(const json& config, const std::string& where)
{
    ModelSpec spec;
    spec.name = config.value("name", "model");
    if (!config.contains("layers") || !config["layers"].is_array())
        throw ModelError(where, "model_config has no list of layers");
    for (const json& layer : config["layers"])
    {
        LayerSpec l = layer_from_json(layer, where);
        l.inputs = inbound_names(layer, l.name);
        spec.layers.push_back(std::move(l));
    }
    if (!config.contains("input_layers") || !config.contains("output_layers"))
        throw ModelError(where, "model_config has no input_layers or output_layers");
    spec.inputs = tensor_refs(config["input_layers"], where, "input_layers");
    spec.outputs = tensor_refs(config["output_layers"], where, "output_layers");
    return spec;
}

ModelSpec sequential_spec(const json& config, const std::string& where)
{
    ModelSpec spec;
    // Keras <= 2.2 wrote the layer list itself as the config.
    const json& layers = config.is_array() ? config : config.value("layers", json::array());
    spec.name = config.is_object() ? config.value("name", "sequential") : "sequential";
    if (!layers.is_array() || layers.empty())
        throw ModelError(where, "Sequential model_config has no layers");
    for (const json& layer : layers)
    {
        LayerSpec l = layer_from_json(layer, where);
        if (spec.layers.empty() && l.class_name != "InputLayer")
        {
            // Keras creates the input layer "<first>_input" from the first layer's shape.
            json shape = l.config.value("batch_input_shape", json());
            if (shape.is_null())
                shape = l.config.value("batch_shape", json());
            if (shape.is_null() && config.is_object())
                shape = config.value("build_input_shape", json());
            if (shape.is_null())
                throw ModelError("layer " + l.name,
                                 "first layer of a Sequential model has no batch_input_shape");
            LayerSpec input;
            input.name = l.name + "_input";
            input.class_name = "InputLayer";
            input.config = {{"batch_input_shape", shape},
                            {"dtype", "float32"},
                            {"sparse", false},
                            {"ragged", false},
                            {"name", input.name}};
            spec.layers.push_back(std::move(input));
        }
        if (!spec.layers.empty())
            l.inputs = {spec.layers.back().name};
        spec.layers.push_back(std::move(l));
    }
    spec.inputs = {spec.layers.front().name};
    spec.outputs = {spec.layers.back().name};
    return spec;
}

ModelSpec spec_from_checked_json(const json& model_config, const std::string& source)
{
    const std::string where = "model " + source;
    if (!model_config.is_object() || !model_config.contains("class_name") ||
        !model_config.contains("config"))
        throw ModelError(where, "model_config lacks class_name or config");
    const std::string class_name = model_config["class_name"].get<std::string>();
    ModelSpec spec;
    if (class_name == "Functional" || class_name == "Model")
        spec = functional_spec(model_config["config"], where);
    else if (class_name == "Sequential")
        spec = sequential_spec(model_config["config"], where);
    else
        throw ModelError(where, "model class " + class_name +
                                    " is not supported (Functional, Model or Sequential expected)");
    spec.source = source;
    sort_layers_topologically(spec);
    return spec;
}

} // namespace

ModelSpec spec_from_keras_config(const json& model_config, const std::string& source)
{
    try
    {
        return spec_from_checked_json(model_config, source);
    }
    catch (const json::exception& e)
    {
        // A value of another JSON type than Keras writes (e.g. a number as class_name).
        throw ModelError("model " + source, std::string("model_config is malformed: ") + e.what());
    }
}

ModelSpec spec_from_model_config_text(const std::string& text, const std::string& source)
{
    json config;
    try
    {
        config = json::parse(text,
                             [&](int depth, json::parse_event_t, json&)
                             {
                                 if (depth > max_model_config_depth)
                                     throw ModelError("model " + source,
                                                      "model_config is not JSON: nested deeper "
                                                      "than " +
                                                          std::to_string(max_model_config_depth) +
                                                          " levels");
                                 return true;
                             });
    }
    catch (const json::exception& e)
    {
        throw ModelError("model " + source, std::string("model_config is not JSON: ") + e.what());
    }
    return spec_from_keras_config(config, source);
}

void sort_layers_topologically(ModelSpec& spec)
{
    const std::string where = "model " + spec.source;
    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < spec.layers.size(); ++i)
        if (!index.emplace(spec.layers[i].name, i).second)
            throw ModelError("layer " + spec.layers[i].name, "name used by two layers");
    for (const LayerSpec& layer : spec.layers)
        for (const std::string& input : layer.inputs)
            if (index.count(input) == 0)
                throw ModelError("layer " + layer.name,
                                 "input '" + input + "' is not a layer of the model");
    for (const auto& name : spec.inputs)
        if (index.count(name) == 0)
            throw ModelError(where, "input layer '" + name + "' is not a layer of the model");
    for (const auto& name : spec.outputs)
        if (index.count(name) == 0)
            throw ModelError(where, "output layer '" + name + "' is not a layer of the model");

    // Kahn's algorithm, always taking the earliest ready layer so a valid order is kept as is.
    std::vector<LayerSpec> sorted;
    std::unordered_set<std::string> placed;
    std::vector<bool> done(spec.layers.size(), false);
    while (sorted.size() < spec.layers.size())
    {
        bool progress = false;
        for (std::size_t i = 0; i < spec.layers.size(); ++i)
        {
            if (done[i])
                continue;
            const auto& inputs = spec.layers[i].inputs;
            if (std::all_of(inputs.begin(), inputs.end(),
                            [&](const std::string& n) { return placed.count(n) != 0; }))
            {
                done[i] = true;
                placed.insert(spec.layers[i].name);
                sorted.push_back(std::move(spec.layers[i]));
                progress = true;
                break;
            }
        }
        if (!progress)
        {
            // Every stuck layer has a stuck input, so following stuck inputs must come back
            // to a layer already seen: that loop is the cycle to report.
            std::size_t at = 0;
            while (done[at])
                ++at;
            std::vector<std::size_t> path;
            while (std::find(path.begin(), path.end(), at) == path.end())
            {
                path.push_back(at);
                for (const auto& input : spec.layers[at].inputs)
                    if (placed.count(input) == 0)
                    {
                        at = index.at(input);
                        break;
                    }
            }
            std::string cycle;
            for (auto it = std::find(path.begin(), path.end(), at); it != path.end(); ++it)
                cycle = spec.layers[*it].name + (cycle.empty() ? "" : " -> ") + cycle;
            throw ModelError("layer " + spec.layers[at].name,
                             "the layer graph has a cycle: " + spec.layers[at].name + " -> " +
                                 cycle);
        }
    }
    spec.layers = std::move(sorted);
}

std::optional<std::vector<std::string>> keras_weight_names(const std::string& class_name,
                                                           const nlohmann::json& config)
{
    static const std::set<std::string> weightless = {"InputLayer",
                                                     "MaxPooling2D",
                                                     "AveragePooling2D",
                                                     "UpSampling2D",
                                                     "Concatenate",
                                                     "Add",
                                                     "Multiply",
                                                     "Average",
                                                     "Subtract",
                                                     "Maximum",
                                                     "Minimum",
                                                     "Dropout",
                                                     "SpatialDropout2D",
                                                     "GaussianNoise",
                                                     "GaussianDropout",
                                                     "AlphaDropout",
                                                     "Flatten",
                                                     "Reshape",
                                                     "Activation",
                                                     "ReLU",
                                                     "Softmax",
                                                     "LeakyReLU",
                                                     "ELU",
                                                     "ZeroPadding2D",
                                                     "Cropping2D",
                                                     "GlobalAveragePooling2D",
                                                     "GlobalMaxPooling2D",
                                                     "Permute",
                                                     "ActivityRegularization",
                                                     "Identity"};
    const bool use_bias = config.value("use_bias", true);
    std::vector<std::string> names;
    if (weightless.count(class_name) != 0)
        return names;
    if (class_name == "Conv2D" || class_name == "Conv1D" || class_name == "Conv3D" ||
        class_name == "Conv2DTranspose" || class_name == "Dense")
        names = {"kernel"};
    else if (class_name == "DepthwiseConv2D")
        names = {"depthwise_kernel"};
    else if (class_name == "SeparableConv2D" || class_name == "SeparableConv1D")
        names = {"depthwise_kernel", "pointwise_kernel"};
    else if (class_name == "BatchNormalization")
    {
        if (config.value("scale", true))
            names.push_back("gamma");
        if (config.value("center", true))
            names.push_back("beta");
        names.push_back("moving_mean");
        names.push_back("moving_variance");
        return names;
    }
    else if (class_name == "PReLU")
        return std::vector<std::string>{"alpha"};
    else
        return std::nullopt;
    if (use_bias)
        names.push_back("bias");
    return names;
}

std::string short_weight_name(const std::string& keras_weight_name)
{
    std::string name = keras_weight_name;
    const auto slash = name.find_last_of('/');
    if (slash != std::string::npos)
        name = name.substr(slash + 1);
    const auto colon = name.find_last_of(':');
    if (colon != std::string::npos && colon + 1 < name.size() &&
        std::all_of(name.begin() + static_cast<std::ptrdiff_t>(colon) + 1, name.end(),
                    [](char c) { return c >= '0' && c <= '9'; }))
        name = name.substr(0, colon);
    return name;
}

} // namespace atrous::infer
