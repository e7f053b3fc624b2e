// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras/TensorFlow window geometry along one axis (output size and padding for 'same'
// and 'valid'), shared by the convolution and pooling layers.
#pragma once

#include <algorithm>

namespace atrous::infer
{

/// One axis of a sliding window. TensorFlow's rule (tensorflow/core/framework/kernel_shape_util.cc
/// GetWindowedOutputSize): 'valid' out = floor((in - k_eff) / stride) + 1; 'same' out =
/// ceil(in / stride) with pad_total = max((out - 1) * stride + k_eff - in, 0) and
/// pad_before = floor(pad_total / 2), the rest after. So an even kernel (k=2, stride 1) pads 0
/// before and 1 after.
struct Window1d
{
    int k = 1;
    int stride = 1;
    int dilation = 1;
    bool same = false;

    int k_eff() const { return (k - 1) * dilation + 1; }

    /// Output length; 0 when `in` is unknown (0); <= 0 when the input is too small (valid).
    int out(int in) const
    {
        if (in == 0)
            return 0;
        if (same)
            return (in + stride - 1) / stride;
        return in >= k_eff() ? (in - k_eff()) / stride + 1 : -1;
    }

    /// Padding before the first input pixel for an input of length `in`; with `in` unknown (0)
    /// the value for a length that is a multiple of the stride.
    int pad_before(int in) const
    {
        if (!same)
            return 0;
        if (in == 0)
            in = stride * 1024;
        const int total = std::max((out(in) - 1) * stride + k_eff() - in, 0);
        return total / 2;
    }
};

} // namespace atrous::infer
