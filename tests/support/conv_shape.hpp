// SPDX-License-Identifier: Apache-2.0
// Purpose: the Conv2dShape of a square k x k window as Keras lays it out ('same' or 'valid'), and
// every fused activation, for the kernel tests.
#pragma once

#include "stages/infer/kernels/kernels.hpp"

#include <algorithm>
#include <vector>

namespace atrous::infer::kernels::test
{

/// Keras "same" geometry (output ceil(in / stride), padding split with the extra row and column
/// after), or "valid" when `same` is false.
inline Conv2dShape keras_conv_shape(int n, int h, int w, int in_c, int out_c, int k, int dilation,
                                    int stride, bool same)
{
    Conv2dShape s;
    s.n = n;
    s.in_h = h;
    s.in_w = w;
    s.in_c = in_c;
    s.out_c = out_c;
    s.kh = s.kw = k;
    s.stride_h = s.stride_w = stride;
    s.dilation_h = s.dilation_w = dilation;
    const int k_eff = (k - 1) * dilation + 1;
    const auto axis = [&](int in, int& out, int& pad)
    {
        out = same ? (in + stride - 1) / stride : in >= k_eff ? (in - k_eff) / stride + 1 : 0;
        pad = same ? std::max((out - 1) * stride + k_eff - in, 0) / 2 : 0;
    };
    axis(h, s.out_h, s.pad_top);
    axis(w, s.out_w, s.pad_left);
    return s;
}

/// One of every activation the kernels fuse: linear, relu, a capped leaky relu with a threshold,
/// sigmoid, tanh, softmax.
inline std::vector<Activation> every_activation()
{
    Activation capped{ActivationKind::relu};
    capped.max_value = 0.5f;
    capped.negative_slope = 0.1f;
    capped.threshold = -0.2f;
    return {Activation{ActivationKind::linear},
            Activation{ActivationKind::relu},
            capped,
            Activation{ActivationKind::sigmoid},
            Activation{ActivationKind::tanh},
            Activation{ActivationKind::softmax}};
}

} // namespace atrous::infer::kernels::test
