// SPDX-License-Identifier: Apache-2.0
// Purpose: reference transposed convolution, written as the scatter it is defined as (the
// gradient of conv2d with respect to its input, as TensorFlow's conv2d_transpose computes it).

#include "stages/infer/kernels/kernels.hpp"

namespace atrous::infer::kernels
{

void conv2d_transpose_ref(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                          const Activation& act, float* out)
{
    const std::size_t pixels = static_cast<std::size_t>(s.n) * s.out_h * s.out_w;
    const std::size_t ips = s.in_stride();
    const std::size_t ops = s.out_stride();
    for (std::size_t p = 0; p < pixels; ++p)
        for (int co = 0; co < s.out_c; ++co)
            out[p * ops + co] = bias ? bias[co] : 0.0f;

    for (int n = 0; n < s.n; ++n)
        for (int iy = 0; iy < s.in_h; ++iy)
            for (int ix = 0; ix < s.in_w; ++ix)
                for (int ky = 0; ky < s.kh; ++ky)
                {
                    const int oy = iy * s.stride_h - s.pad_top + ky * s.dilation_h;
                    if (oy < 0 || oy >= s.out_h)
                        continue;
                    for (int kx = 0; kx < s.kw; ++kx)
                    {
                        const int ox = ix * s.stride_w - s.pad_left + kx * s.dilation_w;
                        if (ox < 0 || ox >= s.out_w)
                            continue;
                        for (int ci = 0; ci < s.in_c; ++ci)
                            for (int co = 0; co < s.out_c; ++co)
                                out[((static_cast<std::size_t>(n) * s.out_h + oy) * s.out_w + ox) *
                                        ops +
                                    co] +=
                                    in[((static_cast<std::size_t>(n) * s.in_h + iy) * s.in_w + ix) *
                                           ips +
                                       ci] *
                                    w[((static_cast<std::size_t>(ky) * s.kw + kx) * s.in_c + ci) *
                                          s.out_c +
                                      co];
                    }
                }
    for (std::size_t p = 0; p < pixels; ++p)
        activate_pixel(act, s.out_c, out + p * ops);
}

} // namespace atrous::infer::kernels
