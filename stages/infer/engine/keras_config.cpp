// SPDX-License-Identifier: Apache-2.0
// Purpose: typed reads of Keras layer configs (Keras 2 and 3 spellings).

#include "keras_config.hpp"

#include "stages/error.hpp"

namespace atrous::infer
{

const nlohmann::json* KerasConfig::find(const std::string& key) const
{
    if (!m_config.is_object())
        return nullptr;
    const auto it = m_config.find(key);
    if (it == m_config.end() || it->is_null())
        return nullptr;
    return &*it;
}

void KerasConfig::fail(const std::string& key, const std::string& expected) const
{
    const nlohmann::json* value = find(key);
    throw ModelError("layer " + m_layer, "config key '" + key + "': " + expected + " expected, " +
                                             (value ? value->dump() : "null") + " found");
}

bool KerasConfig::has(const std::string& key) const
{
    return find(key) != nullptr;
}

int KerasConfig::integer(const std::string& key, int fallback) const
{
    const nlohmann::json* v = find(key);
    if (!v)
        return fallback;
    if (!v->is_number_integer())
        fail(key, "an integer");
    return v->get<int>();
}

double KerasConfig::number(const std::string& key, double fallback) const
{
    const nlohmann::json* v = find(key);
    if (!v)
        return fallback;
    if (!v->is_number())
        fail(key, "a number");
    return v->get<double>();
}

bool KerasConfig::boolean(const std::string& key, bool fallback) const
{
    const nlohmann::json* v = find(key);
    if (!v)
        return fallback;
    if (!v->is_boolean())
        fail(key, "true or false");
    return v->get<bool>();
}

std::string KerasConfig::string(const std::string& key, const std::string& fallback) const
{
    const nlohmann::json* v = find(key);
    if (!v)
        return fallback;
    if (!v->is_string())
        fail(key, "a string");
    return v->get<std::string>();
}

std::pair<int, int> KerasConfig::pair(const std::string& key, std::pair<int, int> fallback) const
{
    const nlohmann::json* v = find(key);
    if (!v)
        return fallback;
    if (v->is_number_integer())
        return {v->get<int>(), v->get<int>()};
    if (v->is_array() && v->size() == 2 && (*v)[0].is_number_integer() &&
        (*v)[1].is_number_integer())
        return {(*v)[0].get<int>(), (*v)[1].get<int>()};
    fail(key, "an integer or a list of two integers");
}

std::pair<Window1d, Window1d> KerasConfig::conv_windows() const
{
    const auto [kh, kw] = pair("kernel_size", {0, 0});
    const auto [sh, sw] = pair("strides", {1, 1});
    const auto [dh, dw] = pair("dilation_rate", {1, 1});
    if (kh < 1 || kw < 1)
        fail("kernel_size", "positive sizes");
    if (sh < 1 || sw < 1)
        fail("strides", "positive strides");
    if (dh < 1 || dw < 1)
        fail("dilation_rate", "positive rates");
    const bool same = same_padding();
    return {Window1d{kh, sh, dh, same}, Window1d{kw, sw, dw, same}};
}

int KerasConfig::positive(const std::string& key, int fallback, const std::string& what) const
{
    const int value = integer(key, fallback);
    if (value < 1)
        fail(key, what);
    return value;
}

bool KerasConfig::same_padding() const
{
    const std::string padding = string("padding", "valid");
    if (padding == "same")
        return true;
    if (padding == "valid")
        return false;
    fail("padding", "'same' or 'valid'");
}

void KerasConfig::require_channels_last() const
{
    const std::string format = string("data_format", "channels_last");
    if (format != "channels_last")
        fail("data_format", "'channels_last'");
}

bool parse_activation(const std::string& name, kernels::Activation& out)
{
    using kernels::ActivationKind;
    out = kernels::Activation{};
    if (name == "linear" || name == "identity")
        out.kind = ActivationKind::linear;
    else if (name == "relu")
        out.kind = ActivationKind::relu;
    else if (name == "sigmoid")
        out.kind = ActivationKind::sigmoid;
    else if (name == "softmax")
        out.kind = ActivationKind::softmax;
    else if (name == "tanh")
        out.kind = ActivationKind::tanh;
    else
        return false;
    return true;
}

kernels::Activation KerasConfig::activation(std::string& name, const std::string& key) const
{
    name = "linear";
    const nlohmann::json* v = find(key);
    if (v)
    {
        if (v->is_string())
            name = v->get<std::string>();
        // Keras 3 may serialize {"module": "keras.activations", "class_name": "function",
        // "config": "relu"}.
        else if (v->is_object() && v->contains("config") && (*v)["config"].is_string())
            name = (*v)["config"].get<std::string>();
        else if (v->is_object() && v->contains("class_name") && (*v)["class_name"].is_string())
            name = (*v)["class_name"].get<std::string>();
        else
            fail(key, "an activation name");
    }
    kernels::Activation act;
    if (!parse_activation(name, act))
        fail(key, "one of relu, sigmoid, softmax, tanh, linear");
    if (name == "identity")
        name = "linear";
    return act;
}

} // namespace atrous::infer
