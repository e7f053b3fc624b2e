// SPDX-License-Identifier: Apache-2.0
// Purpose: TBB-parallel convolutions (direct NHWC, HWIO weights): work is split over output rows
// of all images; the innermost loop runs over contiguous output channels so it vectorizes.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#include "stages/infer/kernels/kernels.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <cassert>
#include <vector>

namespace atrous::infer::kernels
{
namespace
{

/// o[co] += a * w[co] for co < count.
inline void axpy(int count, float a, const float* __restrict w, float* __restrict o)
{
    for (int co = 0; co < count; ++co)
        o[co] += a * w[co];
}

/// Four output pixels sharing each weight load: o_p[co] += a_p * w[co].
inline void axpy4(int count, float a0, float a1, float a2, float a3, const float* __restrict w,
                  float* __restrict o0, float* __restrict o1, float* __restrict o2,
                  float* __restrict o3)
{
    for (int co = 0; co < count; ++co)
    {
        const float wv = w[co];
        o0[co] += a0 * wv;
        o1[co] += a1 * wv;
        o2[co] += a2 * wv;
        o3[co] += a3 * wv;
    }
}

void init_bias(int count, const float* bias, float* o)
{
    for (int co = 0; co < count; ++co)
        o[co] = bias ? bias[co] : 0.0f;
}

/// One output row (image n, row oy) of conv2d.
void conv2d_row(const Conv2dShape& s, int n, int oy, const float* in, const float* w,
                const float* bias, const Activation& act, float* out)
{
    const std::size_t ips = s.in_stride();
    const std::size_t ops = s.out_stride();
    const std::size_t in_row = static_cast<std::size_t>(s.in_w) * ips;
    const std::size_t w_tap = static_cast<std::size_t>(s.in_c) * s.out_c;
    float* orow = out + (static_cast<std::size_t>(n) * s.out_h + oy) * s.out_w * ops;
    const float* image = in + static_cast<std::size_t>(n) * s.in_h * in_row;
    for (int ox = 0; ox < s.out_w; ++ox)
        init_bias(s.out_c, bias, orow + static_cast<std::size_t>(ox) * ops);

    for (int ky = 0; ky < s.kh; ++ky)
    {
        const int iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
        if (iy < 0 || iy >= s.in_h)
            continue;
        const float* irow = image + iy * in_row;
        for (int kx = 0; kx < s.kw; ++kx)
        {
            const float* wk = w + (static_cast<std::size_t>(ky) * s.kw + kx) * w_tap;
            const int shift = kx * s.dilation_w - s.pad_left;
            int ox = 0;
            // Blocks of four output pixels whose input columns are all inside the image.
            for (; ox + 3 < s.out_w; ox += 4)
            {
                const int ix0 = ox * s.stride_w + shift;
                const int ix3 = (ox + 3) * s.stride_w + shift;
                if (ix0 < 0 || ix3 >= s.in_w)
                {
                    for (int p = 0; p < 4; ++p)
                    {
                        const int ix = (ox + p) * s.stride_w + shift;
                        if (ix < 0 || ix >= s.in_w)
                            continue;
                        const float* ip = irow + static_cast<std::size_t>(ix) * ips;
                        float* o = orow + static_cast<std::size_t>(ox + p) * ops;
                        for (int ci = 0; ci < s.in_c; ++ci)
                            axpy(s.out_c, ip[ci], wk + static_cast<std::size_t>(ci) * s.out_c, o);
                    }
                    continue;
                }
                const std::size_t step = static_cast<std::size_t>(s.stride_w) * ips;
                const float* ip0 = irow + static_cast<std::size_t>(ix0) * ips;
                float* o0 = orow + static_cast<std::size_t>(ox) * ops;
                for (int ci = 0; ci < s.in_c; ++ci)
                    axpy4(s.out_c, ip0[ci], ip0[step + ci], ip0[2 * step + ci], ip0[3 * step + ci],
                          wk + static_cast<std::size_t>(ci) * s.out_c, o0, o0 + ops, o0 + 2 * ops,
                          o0 + 3 * ops);
            }
            for (; ox < s.out_w; ++ox)
            {
                const int ix = ox * s.stride_w + shift;
                if (ix < 0 || ix >= s.in_w)
                    continue;
                const float* ip = irow + static_cast<std::size_t>(ix) * ips;
                float* o = orow + static_cast<std::size_t>(ox) * ops;
                for (int ci = 0; ci < s.in_c; ++ci)
                    axpy(s.out_c, ip[ci], wk + static_cast<std::size_t>(ci) * s.out_c, o);
            }
        }
    }
    for (int ox = 0; ox < s.out_w; ++ox)
        activate_pixel(act, s.out_c, orow + static_cast<std::size_t>(ox) * ops);
}

/// One output row of the depthwise convolution.
void depthwise_row(const Conv2dShape& s, int n, int oy, const float* in, const float* w,
                   const float* bias, const Activation& act, float* out)
{
    const int dm = s.out_c / s.in_c;
    const std::size_t ips = s.in_stride();
    const std::size_t ops = s.out_stride();
    const std::size_t in_row = static_cast<std::size_t>(s.in_w) * ips;
    float* orow = out + (static_cast<std::size_t>(n) * s.out_h + oy) * s.out_w * ops;
    const float* image = in + static_cast<std::size_t>(n) * s.in_h * in_row;
    for (int ox = 0; ox < s.out_w; ++ox)
    {
        float* __restrict o = orow + static_cast<std::size_t>(ox) * ops;
        init_bias(s.out_c, bias, o);
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
                const float* __restrict ip = image + iy * in_row + ix * ips;
                const float* __restrict wk =
                    w + (static_cast<std::size_t>(ky) * s.kw + kx) * s.out_c;
                if (dm == 1)
                    for (int c = 0; c < s.out_c; ++c)
                        o[c] += ip[c] * wk[c];
                else
                    for (int c = 0; c < s.out_c; ++c)
                        o[c] += ip[c / dm] * wk[c];
            }
        }
        activate_pixel(act, s.out_c, o);
    }
}

/// One output row of the transposed convolution, as a gather: output row oy receives input row
/// iy through tap ky when oy = iy*stride - pad + ky*dilation.
void transpose_row(const Conv2dShape& s, int n, int oy, const float* in, const float* w,
                   const float* bias, const Activation& act, float* out)
{
    const std::size_t ips = s.in_stride();
    const std::size_t ops = s.out_stride();
    const std::size_t in_row = static_cast<std::size_t>(s.in_w) * ips;
    const std::size_t w_tap = static_cast<std::size_t>(s.in_c) * s.out_c;
    float* orow = out + (static_cast<std::size_t>(n) * s.out_h + oy) * s.out_w * ops;
    const float* image = in + static_cast<std::size_t>(n) * s.in_h * in_row;
    for (int ox = 0; ox < s.out_w; ++ox)
        init_bias(s.out_c, bias, orow + static_cast<std::size_t>(ox) * ops);
    for (int ky = 0; ky < s.kh; ++ky)
    {
        const int num_y = oy + s.pad_top - ky * s.dilation_h;
        if (num_y < 0 || num_y % s.stride_h != 0 || num_y / s.stride_h >= s.in_h)
            continue;
        const float* irow = image + (num_y / s.stride_h) * in_row;
        for (int ox = 0; ox < s.out_w; ++ox)
        {
            float* o = orow + static_cast<std::size_t>(ox) * ops;
            for (int kx = 0; kx < s.kw; ++kx)
            {
                const int num_x = ox + s.pad_left - kx * s.dilation_w;
                if (num_x < 0 || num_x % s.stride_w != 0 || num_x / s.stride_w >= s.in_w)
                    continue;
                const float* ip = irow + static_cast<std::size_t>(num_x / s.stride_w) * ips;
                const float* wk = w + (static_cast<std::size_t>(ky) * s.kw + kx) * w_tap;
                for (int ci = 0; ci < s.in_c; ++ci)
                    axpy(s.out_c, ip[ci], wk + static_cast<std::size_t>(ci) * s.out_c, o);
            }
        }
    }
    for (int ox = 0; ox < s.out_w; ++ox)
        activate_pixel(act, s.out_c, orow + static_cast<std::size_t>(ox) * ops);
}

template <typename RowFn> void for_each_row(const Conv2dShape& s, RowFn&& row)
{
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<int>(0, s.n * s.out_h),
                              [&](const oneapi::tbb::blocked_range<int>& r)
                              {
                                  for (int i = r.begin(); i != r.end(); ++i)
                                      row(i / s.out_h, i % s.out_h);
                              });
}

} // namespace

void conv2d_tbb(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                const Activation& act, float* out)
{
    for_each_row(s, [&](int n, int oy) { conv2d_row(s, n, oy, in, w, bias, act, out); });
}

void depthwise_conv2d_tbb(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                          const Activation& act, float* out)
{
    assert(s.out_c % s.in_c == 0);
    for_each_row(s, [&](int n, int oy) { depthwise_row(s, n, oy, in, w, bias, act, out); });
}

void conv2d_transpose_tbb(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                          const Activation& act, float* out)
{
    for_each_row(s, [&](int n, int oy) { transpose_row(s, n, oy, in, w, bias, act, out); });
}

} // namespace atrous::infer::kernels

namespace atrous::infer::kernels
{

PackedWeights conv2d_tbb_pack(const Conv2dShape& s, const float* hwio)
{
    return conv2d_ref_pack(s, hwio);
}

} // namespace atrous::infer::kernels

namespace atrous::infer::kernels
{

PackedWeights separable_conv2d_tbb_pack(const Conv2dShape& s, int depth_multiplier,
                                        const float* pointwise)
{
    return PackedWeights(pointwise,
                         pointwise + static_cast<std::size_t>(s.in_c) * depth_multiplier * s.out_c);
}

void separable_conv2d_tbb(const Conv2dShape& s, int depth_multiplier, const float* in,
                          const float* dw, const float* pw_packed, const float* bias,
                          const Activation& act, float* out)
{
    Conv2dShape ds = s;
    ds.out_c = s.in_c * depth_multiplier;
    ds.out_pixel_stride = 0;
    std::vector<float> depth(ds.out_size());
    depthwise_conv2d_tbb(ds, in, dw, nullptr, Activation{}, depth.data());
    Conv2dShape ps;
    ps.n = s.n;
    ps.in_h = ps.out_h = s.out_h;
    ps.in_w = ps.out_w = s.out_w;
    ps.in_c = ds.out_c;
    ps.out_c = s.out_c;
    ps.out_pixel_stride = s.out_pixel_stride;
    conv2d_tbb(ps, depth.data(), pw_packed, bias, act, out);
}

} // namespace atrous::infer::kernels
