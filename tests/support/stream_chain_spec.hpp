// SPDX-License-Identifier: Apache-2.0
// Purpose: a model spec for streaming tests: a chain of every windowed layer kind the stream
// executor handles (tests/stages/infer/engine/stream_*_test.cpp).
#pragma once

#include "tests/support/spec_builder.hpp"

namespace atrous::test
{

/// A plain chain of every windowed layer kind (no merges of different strides, so any size is
/// accepted): dilations 1/2/4, a 'valid' conv, separable, depthwise, an unfolded
/// BatchNormalization, strided 'same' conv, pooling, upsampling, an even 2x2 'same' kernel,
/// strided transposes (3x3 and 4x4, whose 'same' padding drops a row before).
inline infer::ModelSpec chain_spec()
{
    SpecBuilder b("chain");
    b.input("in", {nullptr, nullptr, nullptr, 3});
    b.conv("c1", "in", 16, 3, 1);
    b.conv("c2", "c1", 16, 3, 2); // Winograd (>= 16 channels) on a dilated lattice
    b.conv("c4", "c2", 16, 3, 4);
    b.conv("valid", "c4", 16, 3, 1, "relu", "valid");                   // 2 rows fewer, no padding
    b.add("bn", "BatchNormalization", {{"epsilon", 0.001}}, {"valid"}); // after relu: not folded
    b.add("sep", "SeparableConv2D",
          {{"filters", 16}, {"kernel_size", 3}, {"padding", "same"}, {"activation", "relu"}},
          {"bn"});
    b.add("dw", "DepthwiseConv2D",
          {{"kernel_size", 3}, {"depth_multiplier", 2}, {"padding", "same"}}, {"sep"});
    b.add("down", "Conv2D",
          {{"filters", 16},
           {"kernel_size", 3},
           {"strides", 2},
           {"padding", "same"},
           {"activation", "relu"}},
          {"dw"});
    b.add("pool", "MaxPooling2D", {{"pool_size", {2, 2}}, {"padding", "same"}}, {"down"});
    b.add("up", "UpSampling2D", {{"size", {2, 2}}}, {"pool"});
    b.conv("even", "up", 16, 2, 1); // Keras 'same', k=2: 0 rows before, 1 after
    b.add("tr", "Conv2DTranspose",
          {{"filters", 8},
           {"kernel_size", 3},
           {"strides", 2},
           {"padding", "same"},
           {"activation", "relu"}},
          {"even"});
    b.add("tr4", "Conv2DTranspose", // k=4, stride 2, 'same': 1 output row dropped before
          {{"filters", 4},
           {"kernel_size", 4},
           {"strides", 2},
           {"padding", "same"},
           {"activation", "linear"}},
          {"tr"});
    b.add("drop", "Dropout", {{"rate", 0.5}}, {"tr4"});
    b.conv("out", "drop", 2, 1, 1, "softmax");
    return b.spec();
}

} // namespace atrous::test
