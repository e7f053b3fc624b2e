// SPDX-License-Identifier: Apache-2.0
// Purpose: typed reads of a Keras layer `config` object, with errors naming the layer and key.
#pragma once

#include "stages/infer/engine/window.hpp"
#include "stages/infer/kernels/kernels.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

namespace atrous::infer
{

/// Read-only view of one layer's Keras config. Every getter throws ModelError
/// "layer <name>: config key '<key>': <what> expected, <json> found" on a wrong type.
class KerasConfig
{
public:
    KerasConfig(const nlohmann::json& config, std::string layer_name)
        : m_config(config), m_layer(std::move(layer_name))
    {
    }

    bool has(const std::string& key) const;
    int integer(const std::string& key, int fallback) const;
    double number(const std::string& key, double fallback) const;
    bool boolean(const std::string& key, bool fallback) const;
    std::string string(const std::string& key, const std::string& fallback) const;
    /// An int or a list of two ints (kernel_size, strides, dilation_rate, pool_size, size).
    std::pair<int, int> pair(const std::string& key, std::pair<int, int> fallback) const;
    /// "same" -> true, "valid" -> false; anything else is a ModelError.
    bool same_padding() const;
    /// A convolution's kernel_size, strides, dilation_rate (each positive) and padding, per axis
    /// (rows, columns): the one reading of those keys every convolution layer shares.
    std::pair<Window1d, Window1d> conv_windows() const;
    /// An integer key that must be >= 1 (filters, depth_multiplier, units); `fallback` when absent.
    int positive(const std::string& key, int fallback, const std::string& what) const;
    /// Throws unless data_format is absent, null or channels_last.
    void require_channels_last() const;
    /// The `activation` key (string or Keras 3 serialized object) as a kernel activation;
    /// `name` receives its Keras name. Unsupported names are a ModelError.
    kernels::Activation activation(std::string& name, const std::string& key = "activation") const;

    const nlohmann::json& json() const { return m_config; }
    [[noreturn]] void fail(const std::string& key, const std::string& expected) const;

private:
    const nlohmann::json* find(const std::string& key) const;

    const nlohmann::json& m_config;
    std::string m_layer;
};

/// Parses a Keras activation name ("relu", "sigmoid", "softmax", "linear", "tanh"); nullopt-like:
/// returns false when unsupported.
bool parse_activation(const std::string& name, kernels::Activation& out);

} // namespace atrous::infer
