// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras 3 weights layout (layers/<class path>/vars/<index>) -> weights of a ModelSpec.
#include "keras3_weights.hpp"

#include "stages/error.hpp"
#include "stages/infer/import/keras_config.hpp"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

namespace atrous::infer
{
namespace
{

constexpr const char* layers_group = "/layers";

/// saving_lib's _get_unique_name: the first "conv2d", then "conv2d_1", "conv2d_2", ...
class UniqueNames
{
public:
    std::string operator()(const std::string& name)
    {
        const auto [it, first] = m_used.emplace(name, 0);
        if (first)
            return name;
        return name + "_" + std::to_string(++it->second);
    }

private:
    std::map<std::string, int> m_used;
};

/// The arrays of one vars group, which must be exactly the datasets "0" .. "n-1".
std::vector<WeightArray> read_vars(const H5File& file, const std::string& group)
{
    const std::vector<std::string> members = file.members(group);
    const auto is_index = [&](const std::string& m)
    {
        return !m.empty() && m.size() <= 9 && (m == "0" || m[0] != '0') &&
               std::all_of(m.begin(), m.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
               std::stoul(m) < members.size();
    };
    const auto odd = std::find_if_not(members.begin(), members.end(), is_index);
    if (odd != members.end())
        throw ModelError(file.where(), group + " holds '" + *odd + "'; datasets 0.." +
                                           std::to_string(members.size() - 1) +
                                           " expected (Keras 3 layout)");
    std::vector<WeightArray> arrays;
    for (std::size_t i = 0; i < members.size(); ++i)
    {
        const std::string index = std::to_string(i);
        H5FloatArray array = file.float_dataset(group + "/" + index);
        arrays.push_back({index, std::move(array.shape), std::move(array.values)});
    }
    return arrays;
}

} // namespace

bool is_keras3_weights_layout(const H5File& file)
{
    return !file.has_attribute("/", "layer_names") &&
           !file.has_attribute("/model_weights", "layer_names") && file.exists(layers_group);
}

std::string keras_snake_case(const std::string& class_name)
{
    static const std::regex non_word(R"(\W+)");
    static const std::regex capitalized("(.)([A-Z][a-z]+)");
    static const std::regex lower_upper("([a-z])([A-Z])");
    std::string name = std::regex_replace(class_name, non_word, "");
    name = std::regex_replace(name, capitalized, "$1_$2");
    name = std::regex_replace(name, lower_upper, "$1_$2");
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return name;
}

void attach_keras3_weights(ModelSpec& spec, const H5File& file, const std::string& source)
{
    UniqueNames unique;
    std::set<std::string> taken;
    for (LayerSpec& layer : spec.layers)
    {
        const std::string entry = unique(keras_snake_case(layer.class_name));
        taken.insert(entry);
        const std::string group = std::string(layers_group) + "/" + entry + "/vars";
        std::vector<WeightArray> arrays;
        if (file.exists(group))
            arrays = read_vars(file, group);
        const auto names = keras_weight_names(layer.class_name, layer.config);
        if (names)
        {
            if (arrays.empty() && !names->empty())
                throw ModelError("layer " + layer.name, "no weights for it in " + source + " (" +
                                                            group + " is missing or empty)");
            if (names->size() != arrays.size())
                throw ModelError("layer " + layer.name,
                                 std::to_string(names->size()) + " weight arrays expected (" +
                                     layer.class_name + "), " + std::to_string(arrays.size()) +
                                     " found in " + source + " " + group);
            // Keras stores by position; the engine reads Keras' weight names.
            for (std::size_t i = 0; i < names->size(); ++i)
                arrays[i].name = (*names)[i];
        }
        layer.weights = std::move(arrays);
    }
    // Weights no layer takes: the model lacks layers the file was saved from (Keras' own
    // loader would leave them unused and the model partly untrained).
    for (const std::string& entry : file.members(layers_group))
    {
        const std::string group = std::string(layers_group) + "/" + entry + "/vars";
        if (taken.count(entry) == 0 && file.exists(group) && !file.members(group).empty())
            throw ModelError("model " + source, std::string(layers_group) + "/" + entry +
                                                    " holds weights, but no layer of the "
                                                    "model maps to it; the model has fewer "
                                                    "layers of that class than the file");
    }
}

} // namespace atrous::infer
