// SPDX-License-Identifier: Apache-2.0
// Purpose: reference activations (Keras semantics) and the per-pixel helper every family shares.

#include "stages/infer/kernels/kernels.hpp"

#include <algorithm>
#include <cmath>

namespace atrous::infer::kernels
{

std::ostream& operator<<(std::ostream& os, const Conv2dShape& s)
{
    os << "n" << s.n << " in " << s.in_h << "x" << s.in_w << "x" << s.in_c << " out " << s.out_h
       << "x" << s.out_w << "x" << s.out_c << " k " << s.kh << "x" << s.kw << " stride "
       << s.stride_h << "x" << s.stride_w << " dilation " << s.dilation_h << "x" << s.dilation_w
       << " pad " << s.pad_top << "," << s.pad_left;
    if (s.in_pixel_stride > 0)
        os << " in_pixel_stride " << s.in_pixel_stride;
    if (s.out_pixel_stride > 0)
        os << " out_pixel_stride " << s.out_pixel_stride;
    return os;
}

void activate_pixel(const Activation& act, int channels, float* data)
{
    switch (act.kind)
    {
    case ActivationKind::linear:
        return;
    case ActivationKind::relu:
        // Keras ReLU layer: x >= threshold -> min(x, max_value); else slope * (x - threshold).
        for (int c = 0; c < channels; ++c)
        {
            const float x = data[c];
            data[c] = x >= act.threshold ? std::min(x, act.max_value)
                                         : act.negative_slope * (x - act.threshold);
        }
        return;
    case ActivationKind::sigmoid:
        for (int c = 0; c < channels; ++c)
            data[c] = 1.0f / (1.0f + std::exp(-data[c]));
        return;
    case ActivationKind::tanh:
        for (int c = 0; c < channels; ++c)
            data[c] = std::tanh(data[c]);
        return;
    case ActivationKind::softmax:
    {
        // Shift by the max for range safety, as Keras/TF do.
        float top = data[0];
        for (int c = 1; c < channels; ++c)
            top = std::max(top, data[c]);
        float sum = 0.0f;
        for (int c = 0; c < channels; ++c)
        {
            data[c] = std::exp(data[c] - top);
            sum += data[c];
        }
        const float inv = 1.0f / sum;
        for (int c = 0; c < channels; ++c)
            data[c] *= inv;
        return;
    }
    }
}

void activation_ref(const Activation& act, std::size_t pixels, int channels, float* data)
{
    for (std::size_t p = 0; p < pixels; ++p)
        activate_pixel(act, channels, data + p * channels);
}

} // namespace atrous::infer::kernels
