// SPDX-License-Identifier: Apache-2.0
// Purpose: the built-in architectures (the seed U-Net and the seed classifier), used when a
// weights file has no `model_config` (Keras `save_weights` layout).
#pragma once

#include "stages/infer/import/model_spec.hpp"

#include <variant>
#include <vector>

namespace atrous::infer
{

/// The seed dilated U-Net. Defaults are the seed's: 64..1024 filters, levels 4-5 dilated at rate 2
/// with Dropout 0.5 after them, 2x2 max-pool, decoder UpSampling2D(2) -> Conv2D(k=2, same) ->
/// concat with the skip, final Conv2D(2,3) -> Conv2D(classes,1, sigmoid for 1 class else softmax).
struct UnetArchitecture
{
    int filters = 64;                          // level-1 width; level i has filters << (i-1)
    int depth = 5;                             // number of levels (depth-1 poolings)
    std::vector<int> dilation = {1, 1, 1, 2, 2}; // per level; size == depth
    bool separable = false;                    // every 3x3 Conv2D -> SeparableConv2D
    int in_channels = 1;
    int classes = 1;                           // 1 = sigmoid mask; >1 = softmax over classes
    double dropout = 0.5;                      // rate of the Dropout after the dilated levels
};

/// The seed SeparableConv2D classifier: 28x28x1 -> 10 classes (softmax).
struct ClassifierArchitecture
{
    int height = 28;
    int width = 28;
    int in_channels = 1;
    int classes = 10;
};

using Architecture = std::variant<UnetArchitecture, ClassifierArchitecture>;

/// The architecture as a ModelSpec with Keras layer names in the order the seed's Keras code
/// creates them (so weights match by name), and no weights attached.
ModelSpec builtin_model_spec(const Architecture& arch);

} // namespace atrous::infer
