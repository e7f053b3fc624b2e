// SPDX-License-Identifier: Apache-2.0
// Purpose: reference 2-D convolution (NHWC, HWIO), the oracle for the fast kernels.

#include "stages/infer/kernels/kernels.hpp"

namespace atrous::infer::kernels
{

void conv2d_ref(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                const Activation& act, float* out)
{
    const std::size_t ips = s.in_stride();
    const std::size_t ops = s.out_stride();
    for (int n = 0; n < s.n; ++n)
        for (int oy = 0; oy < s.out_h; ++oy)
            for (int ox = 0; ox < s.out_w; ++ox)
            {
                float* o =
                    out + ((static_cast<std::size_t>(n) * s.out_h + oy) * s.out_w + ox) * ops;
                for (int co = 0; co < s.out_c; ++co)
                {
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
                            for (int ci = 0; ci < s.in_c; ++ci)
                                acc +=
                                    in[((static_cast<std::size_t>(n) * s.in_h + iy) * s.in_w + ix) *
                                           ips +
                                       ci] *
                                    w[((static_cast<std::size_t>(ky) * s.kw + kx) * s.in_c + ci) *
                                          s.out_c +
                                      co];
                        }
                    }
                    o[co] = acc;
                }
                activate_pixel(act, s.out_c, o);
            }
}

} // namespace atrous::infer::kernels

namespace atrous::infer::kernels
{

PackedWeights conv2d_ref_pack(const Conv2dShape& s, const float* hwio)
{
    return PackedWeights(hwio, hwio + static_cast<std::size_t>(s.kh) * s.kw * s.in_c * s.out_c);
}

} // namespace atrous::infer::kernels
