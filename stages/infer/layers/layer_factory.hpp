// SPDX-License-Identifier: Apache-2.0
// Purpose: the one place that maps a Keras class name to the engine layer implementing it.
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/engine/model.hpp"
#include "stages/infer/import/model_spec.hpp"

#include <memory>
#include <string>
#include <vector>

namespace atrous::infer
{

/// Keras class names the engine runs, in the order of the factory's list.
const std::vector<std::string>& supported_layer_classes();
bool is_supported_layer_class(const std::string& class_name);

/// Builds the layer for `spec` given its input shapes (0 = unknown height/width/batch), taking
/// and validating its weights. Throws ModelError naming the layer.
std::unique_ptr<Layer> make_layer(const LayerSpec& spec, const std::vector<Shape>& inputs,
                                  const BuildOptions& options);

} // namespace atrous::infer
