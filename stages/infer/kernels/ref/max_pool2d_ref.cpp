// SPDX-License-Identifier: Apache-2.0
// Purpose: reference max pooling; padded positions are ignored (TensorFlow's SAME pooling).

#include "stages/infer/kernels/kernels.hpp"

#include <algorithm>
#include <limits>

namespace atrous::infer::kernels
{

void max_pool2d_ref(const Conv2dShape& s, const float* in, float* out)
{
    const std::size_t ips = s.in_stride();
    const std::size_t ops = s.out_stride();
    for (int n = 0; n < s.n; ++n)
        for (int oy = 0; oy < s.out_h; ++oy)
            for (int ox = 0; ox < s.out_w; ++ox)
                for (int c = 0; c < s.out_c; ++c)
                {
                    float best = -std::numeric_limits<float>::infinity();
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
                            best = std::max(
                                best,
                                in[((static_cast<std::size_t>(n) * s.in_h + iy) * s.in_w + ix) *
                                       ips +
                                   c]);
                        }
                    }
                    out[((static_cast<std::size_t>(n) * s.out_h + oy) * s.out_w + ox) * ops + c] =
                        best;
                }
}

} // namespace atrous::infer::kernels
