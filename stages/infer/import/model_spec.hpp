// SPDX-License-Identifier: Apache-2.0
// Purpose: a model as Keras describes it (layer classes, Keras configs, weights), before the
// engine turns it into runnable layers. The importers (Keras HDF5, built-in architectures) produce
// it; engine/model.cpp consumes it. Keeping Keras' own vocabulary here means a layer's semantics
// are decided in exactly one place, the engine's layer factory.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace atrous::infer
{

/// One weight array exactly as stored by Keras (e.g. Conv2D kernel HWIO (kh,kw,cin,cout)).
struct WeightArray
{
    std::string name;       // e.g. "kernel", "bias", "depthwise_kernel", "gamma" (no layer prefix, no ":0")
    std::vector<int> shape; // Keras shape, row-major
    std::vector<float> values;
};

/// One Keras layer: its class, its Keras `config` object, who feeds it, and its weights.
struct LayerSpec
{
    std::string name;                // unique Keras layer name, e.g. "conv2d_3"
    std::string class_name;          // Keras class, e.g. "Conv2D", "SeparableConv2D", "InputLayer"
    nlohmann::json config;           // the Keras layer config (filters, kernel_size, padding, ...)
    std::vector<std::string> inputs; // names of the layers whose outputs feed this one, in order
    std::vector<WeightArray> weights; // in Keras' weight order; empty for weightless layers
};

/// A whole model: layers in a topological order, the input layer(s) and output layer(s).
struct ModelSpec
{
    std::string name;                 // Keras model name, or the built-in architecture's
    std::vector<LayerSpec> layers;
    std::vector<std::string> inputs;  // InputLayer names (atrous runs single-input models)
    std::vector<std::string> outputs; // output layer names (atrous runs single-output models)
    std::string source;               // where it came from, for messages: file path or "builtin unet"
};

} // namespace atrous::infer
