// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras 3's own weights layout (model.weights.h5 inside a .keras file, and
// `model.save_weights("x.weights.h5")`) -> weights attached to a ModelSpec.
//
// Layout (keras/src/saving/saving_lib.py, H5IOStore and _save_state / _save_container_state):
//   /vars                       the model's own variables (none for a Functional or Sequential)
//   /layers/<path>/vars/0, 1, ... one dataset per variable, in the order the layer's
//                               save_own_variables stores them (Conv2D: kernel, bias;
//                               SeparableConv2D: depthwise_kernel, pointwise_kernel, bias;
//                               BatchNormalization: gamma, beta, moving_mean, moving_variance)
//   /optimizer/vars/...         ignored
// <path> is NOT the layer's name: Keras names each entry of model.layers after its class in
// snake case, made unique in the order of model.layers ("conv2d", "conv2d_1", ...,
// "separable_conv2d", "input_layer"). Recent Keras also writes the layer's name as attribute
// `name` of its vars group; older Keras 3 leaves weightless layers without a group.
#pragma once

#include "stages/infer/import/h5_file.hpp"
#include "stages/infer/import/model_spec.hpp"

#include <string>

namespace atrous::infer
{

/// True when `file` holds Keras 3's layout: a /layers group and no legacy layer_names.
bool is_keras3_weights_layout(const H5File& file);

/// Keras' to_snake_case (keras/src/utils/naming.py): "SeparableConv2D" -> "separable_conv2d",
/// "MaxPooling2D" -> "max_pooling2d", "InputLayer" -> "input_layer", "ReLU" -> "re_lu".
std::string keras_snake_case(const std::string& class_name);

/// Attaches the weights of `file` to the layers of `spec`, whose order must be Keras'
/// model.layers order (config.json's, or the built-in architecture's). Each layer's group path
/// comes from its class and rank; its vars 0..n-1 get the canonical names of
/// keras_weight_names (unknown classes keep "0", "1", ...). Throws ModelError naming the layer
/// ("layer conv2d_3: ...") when a weighted layer has no group or the wrong number of variables,
/// and naming the group when the file holds weights no layer of the model takes. `source`
/// names the file in messages.
void attach_keras3_weights(ModelSpec& spec, const H5File& file, const std::string& source);

} // namespace atrous::infer
