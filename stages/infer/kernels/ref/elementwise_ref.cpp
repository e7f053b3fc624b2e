// SPDX-License-Identifier: Apache-2.0
// Purpose: reference data-movement and elementwise kernels: upsampling, concatenation, add,
// per-channel affine, dense.

#include "stages/infer/kernels/kernels.hpp"

namespace atrous::infer::kernels
{

void upsample_nearest_ref(int n, int h, int w, int c, int fy, int fx, const float* in, float* out)
{
    const int oh = h * fy;
    const int ow = w * fx;
    for (int b = 0; b < n; ++b)
        for (int y = 0; y < oh; ++y)
            for (int x = 0; x < ow; ++x)
                for (int k = 0; k < c; ++k)
                    out[((static_cast<std::size_t>(b) * oh + y) * ow + x) * c + k] =
                        in[((static_cast<std::size_t>(b) * h + y / fy) * w + x / fx) * c + k];
}

void dense_ref(std::size_t rows, int in_c, int out_c, const float* in, const float* w,
               const float* bias, const Activation& act, float* out)
{
    for (std::size_t r = 0; r < rows; ++r)
    {
        for (int o = 0; o < out_c; ++o)
        {
            float acc = bias ? bias[o] : 0.0f;
            for (int i = 0; i < in_c; ++i)
                acc += in[r * in_c + i] * w[static_cast<std::size_t>(i) * out_c + o];
            out[r * out_c + o] = acc;
        }
        activate_pixel(act, out_c, out + r * out_c);
    }
}

void concat_channels_ref(std::size_t pixels, int count, const float* const* in, const int* channels,
                         float* out)
{
    int total = 0;
    for (int k = 0; k < count; ++k)
        total += channels[k];
    for (std::size_t p = 0; p < pixels; ++p)
    {
        int offset = 0;
        for (int k = 0; k < count; ++k)
        {
            for (int c = 0; c < channels[k]; ++c)
                out[p * total + offset + c] = in[k][p * channels[k] + c];
            offset += channels[k];
        }
    }
}

void add_ref(std::size_t size, int count, const float* const* in, float* out)
{
    for (std::size_t i = 0; i < size; ++i)
    {
        float acc = 0.0f;
        for (int k = 0; k < count; ++k)
            acc += in[k][i];
        out[i] = acc;
    }
}

void affine_ref(std::size_t pixels, int channels, const float* in, const float* scale,
                const float* shift, float* out)
{
    for (std::size_t p = 0; p < pixels; ++p)
        for (int c = 0; c < channels; ++c)
            out[p * channels + c] = in[p * channels + c] * scale[c] + shift[c];
}

} // namespace atrous::infer::kernels
