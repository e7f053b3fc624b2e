// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras `model_config` JSON (Functional or Sequential, Keras 2 or 3) -> the graph of a
// ModelSpec, plus the little Keras knowledge the importer needs about weights.
#pragma once

#include "stages/infer/import/model_spec.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace atrous::infer
{

/// Builds the layers, wiring, inputs and outputs (no weights) from a parsed `model_config`
/// attribute ({"class_name": "Functional"|"Model"|"Sequential", "config": {...}}). Reads Keras 2
/// inbound nodes ([[["name", 0, 0, {}]]]) and Keras 3 ones ({"args": [{"class_name":
/// "__keras_tensor__", "config": {"keras_history": ["name", 0, 0]}}]}); gives a Keras 3
/// InputLayer's `batch_shape` also as `batch_input_shape`. `source` names the file in errors.
/// Throws ModelError on a malformed config, duplicate names, unknown inputs, shared layers,
/// nested models, Lambda layers, or cycles.
ModelSpec spec_from_keras_config(const nlohmann::json& model_config, const std::string& source);

/// Parses the text of a `model_config` attribute and builds the graph as spec_from_keras_config.
/// Throws ModelError ("model <source>: model_config is not JSON: ...") on text that is not JSON
/// or nests deeper than max_model_config_depth, and on every malformed config (a value of the
/// wrong JSON type included).
ModelSpec spec_from_model_config_text(const std::string& text, const std::string& source);

/// Keras configs nest about ten levels; deeper JSON is refused before it is walked (recursion).
constexpr int max_model_config_depth = 128;

/// Puts spec.layers in a topological order (stable: keeps the given order where it can) and
/// checks the wiring: every input and output names a layer. Throws ModelError naming the layer
/// with an unknown input, or the layers on a cycle.
void sort_layers_topologically(ModelSpec& spec);

/// Keras' weight names, in Keras' order, for a layer of `class_name` with `config` (e.g.
/// Conv2D with use_bias: {"kernel", "bias"}); empty for weightless classes; nullopt for classes
/// the importer does not know (their weights are taken as the file gives them).
std::optional<std::vector<std::string>> keras_weight_names(const std::string& class_name,
                                                           const nlohmann::json& config);

/// "conv2d_3/kernel:0", "model/conv2d_3/kernel" -> "kernel": the last path component without
/// the ":<index>" suffix TensorFlow adds.
std::string short_weight_name(const std::string& keras_weight_name);

} // namespace atrous::infer
