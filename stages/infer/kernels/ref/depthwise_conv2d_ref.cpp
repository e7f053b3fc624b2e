// SPDX-License-Identifier: Apache-2.0
// Purpose: reference depthwise convolution (Keras DepthwiseConv2D: output channel ci*dm + m).

#include "stages/infer/kernels/kernels.hpp"

#include <cassert>

namespace atrous::infer::kernels
{

void depthwise_conv2d_ref(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                          const Activation& act, float* out)
{
    assert(s.out_c % s.in_c == 0);
    const int dm = s.out_c / s.in_c;
    const std::size_t ips = s.in_stride();
    const std::size_t ops = s.out_stride();
    for (int n = 0; n < s.n; ++n)
        for (int oy = 0; oy < s.out_h; ++oy)
            for (int ox = 0; ox < s.out_w; ++ox)
            {
                float* o =
                    out + ((static_cast<std::size_t>(n) * s.out_h + oy) * s.out_w + ox) * ops;
                for (int ci = 0; ci < s.in_c; ++ci)
                    for (int m = 0; m < dm; ++m)
                    {
                        const int co = ci * dm + m;
                        float acc = bias ? bias[co] : 0.0f;
                        for (int ky = 0; ky < s.kh; ++ky)
                        {
                            const int iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
                            if (iy < 0 || iy >= s.in_h)
                                continue;
                            for (int kx = 0; kx < s.kw; ++kx)
                            {
                                const int ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
                                if (ix < 0 || ix >= s.in_w)
                                    continue;
                                acc +=
                                    in[((static_cast<std::size_t>(n) * s.in_h + iy) * s.in_w + ix) *
                                           ips +
                                       ci] *
                                    w[((static_cast<std::size_t>(ky) * s.kw + kx) * s.in_c + ci) *
                                          dm +
                                      m];
                            }
                        }
                        o[co] = acc;
                    }
                activate_pixel(act, s.out_c, o);
            }
}

} // namespace atrous::infer::kernels
