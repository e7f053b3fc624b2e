// SPDX-License-Identifier: Apache-2.0
// Purpose: the portable oracle of the bf16 Winograd convolution (kernels.def op conv2d_bf16_wino):
// F(2x2, 3x3) and F(2x2, 2x2) with the transformed inputs and weights rounded to bf16 the way the
// SIMD kernel rounds them, the products summed in fp32; the direct bf16 oracle for every other
// shape.

#include "stages/infer/kernels/kernels.hpp"

#include <algorithm>
#include <vector>

namespace atrous::infer::kernels
{
namespace
{

// The 1-D transforms of F(2x2, 3x3) and F(2x2, 2x2) in the SIMD kernel's operation order
// (avx2/conv2d_winograd.inl Wino23, Wino22), so that the transformed inputs are the same fp32
// values before rounding. Arrays of 4; F(2x2, 2x2) uses the first 3.
void in_1d_23(const float d[4], float r[4])
{
    r[0] = d[0] - d[2];
    r[1] = d[1] + d[2];
    r[2] = d[2] - d[1];
    r[3] = d[1] - d[3];
}

void out_1d_23(const float x[4], float o[2])
{
    o[0] = (x[0] + x[1]) + x[2];
    o[1] = (x[1] - x[2]) - x[3];
}

void in_1d_22(const float d[4], float r[4])
{
    r[0] = d[0] - d[1];
    r[1] = d[1];
    r[2] = d[2] - d[1];
}

void out_1d_22(const float x[4], float o[2])
{
    o[0] = x[0] + x[1];
    o[1] = x[1] + x[2];
}

} // namespace

PackedWeights conv2d_bf16_wino_ref_pack(const Conv2dShape& s, const float* hwio)
{
    // Winograd shapes: U = G g G^T as [a*a points][in_c][out_c], each rounded to bf16.
    return bf16_winograd_applies(s) ? winograd_bf16_rounded(s, hwio)
                                    : conv2d_bf16_ref_pack(s, hwio);
}

void conv2d_bf16_wino_ref(const Conv2dShape& s, const float* in, const float* packed_w,
                          const float* bias, const Activation& act, float* out)
{
    if (!bf16_winograd_applies(s))
    {
        conv2d_bf16_ref(s, in, packed_w, bias, act, out);
        return;
    }
    constexpr int M = 2;
    const int A = s.kh == 3 ? 4 : 3; // patch size
    const auto in_1d = s.kh == 3 ? in_1d_23 : in_1d_22;
    const auto out_1d = s.kh == 3 ? out_1d_23 : out_1d_22;
    const std::size_t ips = s.in_stride();
    const std::size_t ops = s.out_stride();
    std::vector<float> v(static_cast<std::size_t>(A) * A * s.in_c);  // [point][ci], rounded
    std::vector<float> m(static_cast<std::size_t>(A) * A * s.out_c); // [point][co]
    // Rows / columns no output reads read as zeros, as in the SIMD kernel
    // (avx2/conv2d_winograd.inl, wino_input).
    const int y_end = std::min(s.in_h, s.out_h - s.pad_top + (s.kh - 1) * s.dilation_h);
    const int x_end = std::min(s.in_w, s.out_w - s.pad_left + (s.kw - 1) * s.dilation_w);
    for (int n = 0; n < s.n; ++n)
    {
        const float* image = in + static_cast<std::size_t>(n) * s.in_h * s.in_w * ips;
        float* result = out + static_cast<std::size_t>(n) * s.out_h * s.out_w * ops;
        // Tiles of 2 x 2 outputs `dilation` apart, each sub-lattice from its first output.
        for (int ay = 0; ay < s.dilation_h; ++ay)
            for (int oy0 = ay; oy0 < s.out_h; oy0 += M * s.dilation_h)
                for (int ax = 0; ax < s.dilation_w; ++ax)
                    for (int ox0 = ax; ox0 < s.out_w; ox0 += M * s.dilation_w)
                    {
                        for (int ci = 0; ci < s.in_c; ++ci)
                        {
                            float d[4][4] = {};
                            for (int u = 0; u < A; ++u)
                                for (int w = 0; w < A; ++w)
                                {
                                    const int iy = oy0 - s.pad_top + s.dilation_h * u;
                                    const int ix = ox0 - s.pad_left + s.dilation_w * w;
                                    d[u][w] =
                                        iy >= 0 && iy < y_end && ix >= 0 && ix < x_end
                                            ? image[(static_cast<std::size_t>(iy) * s.in_w + ix) *
                                                        ips +
                                                    ci]
                                            : 0.0f;
                                }
                            float tmp[4][4] = {};
                            for (int u = 0; u < A; ++u)
                                in_1d(d[u], tmp[u]);
                            for (int j = 0; j < A; ++j)
                            {
                                const float col[4] = {tmp[0][j], tmp[1][j], tmp[2][j], tmp[3][j]};
                                float res[4];
                                in_1d(col, res);
                                for (int i = 0; i < A; ++i)
                                    v[(static_cast<std::size_t>(i) * A + j) * s.in_c + ci] =
                                        round_to_bf16(res[i]);
                            }
                        }
                        for (int p = 0; p < A * A; ++p)
                            for (int co = 0; co < s.out_c; ++co)
                            {
                                float sum = 0.0f;
                                for (int ci = 0; ci < s.in_c; ++ci)
                                    sum += v[static_cast<std::size_t>(p) * s.in_c + ci] *
                                           packed_w[(static_cast<std::size_t>(p) * s.in_c + ci) *
                                                        s.out_c +
                                                    co];
                                m[static_cast<std::size_t>(p) * s.out_c + co] = sum;
                            }
                        for (int co = 0; co < s.out_c; ++co)
                        {
                            float tmp[4][M] = {};
                            for (int i = 0; i < A; ++i)
                            {
                                float row[4] = {};
                                for (int j = 0; j < A; ++j)
                                    row[j] = m[static_cast<std::size_t>(i * A + j) * s.out_c + co];
                                out_1d(row, tmp[i]);
                            }
                            for (int j = 0; j < M; ++j)
                            {
                                const float col[4] = {tmp[0][j], tmp[1][j], tmp[2][j], tmp[3][j]};
                                float res[M];
                                out_1d(col, res);
                                for (int i = 0; i < M; ++i)
                                {
                                    const int oy = oy0 + s.dilation_h * i;
                                    const int ox = ox0 + s.dilation_w * j;
                                    if (oy < s.out_h && ox < s.out_w)
                                        result[(static_cast<std::size_t>(oy) * s.out_w + ox) * ops +
                                               co] = res[i] + (bias ? bias[co] : 0.0f);
                                }
                            }
                        }
                    }
        for (std::size_t px = 0; px < static_cast<std::size_t>(s.out_h) * s.out_w; ++px)
            activate_pixel(act, s.out_c, result + px * ops);
    }
}

} // namespace atrous::infer::kernels
