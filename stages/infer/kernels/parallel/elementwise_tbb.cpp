// SPDX-License-Identifier: Apache-2.0
// Purpose: TBB-parallel pooling, upsampling, dense and elementwise kernels (same contracts as the
// reference ones in ref/).

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#include "stages/infer/kernels/kernels.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <limits>
#include <vector>

namespace atrous::infer::kernels
{
namespace
{

using Range = oneapi::tbb::blocked_range<std::size_t>;

/// Runs fn(begin, end) over [0, count) in chunks of at least `grain`.
template <typename Fn> void parallel_chunks(std::size_t count, std::size_t grain, Fn&& fn)
{
    oneapi::tbb::parallel_for(Range(0, count, std::max<std::size_t>(grain, 1)),
                              [&](const Range& r) { fn(r.begin(), r.end()); });
}

} // namespace

void max_pool2d_tbb(const Conv2dShape& s, const float* in, float* out)
{
    const std::size_t ips = s.in_stride();
    const std::size_t ops = s.out_stride();
    parallel_chunks(
        static_cast<std::size_t>(s.n) * s.out_h, 1,
        [&](std::size_t begin, std::size_t end)
        {
            for (std::size_t row = begin; row < end; ++row)
            {
                const int n = static_cast<int>(row / s.out_h);
                const int oy = static_cast<int>(row % s.out_h);
                for (int ox = 0; ox < s.out_w; ++ox)
                {
                    float* o = out + (row * s.out_w + ox) * ops;
                    std::fill(o, o + s.out_c, -std::numeric_limits<float>::infinity());
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
                            const float* ip =
                                in +
                                ((static_cast<std::size_t>(n) * s.in_h + iy) * s.in_w + ix) * ips;
                            for (int c = 0; c < s.out_c; ++c)
                                o[c] = std::max(o[c], ip[c]);
                        }
                    }
                }
            }
        });
}

void upsample_nearest_tbb(int n, int h, int w, int c, int fy, int fx, const float* in, float* out)
{
    const int oh = h * fy;
    const int ow = w * fx;
    parallel_chunks(static_cast<std::size_t>(n) * oh, 1,
                    [&](std::size_t begin, std::size_t end)
                    {
                        for (std::size_t row = begin; row < end; ++row)
                        {
                            const std::size_t b = row / oh;
                            const std::size_t y = row % oh;
                            const float* irow = in + (b * h + y / fy) * w * c;
                            float* orow = out + row * ow * c;
                            for (int x = 0; x < ow; ++x)
                                std::copy(irow + static_cast<std::size_t>(x / fx) * c,
                                          irow + static_cast<std::size_t>(x / fx + 1) * c,
                                          orow + static_cast<std::size_t>(x) * c);
                        }
                    });
}

void dense_tbb(std::size_t rows, int in_c, int out_c, const float* in, const float* w,
               const float* bias, const Activation& act, float* out)
{
    // Split over output columns (classifier heads have one row) and rows together.
    constexpr int block = 64;
    const std::size_t col_blocks = (static_cast<std::size_t>(out_c) + block - 1) / block;
    parallel_chunks(rows * col_blocks, 1,
                    [&](std::size_t begin, std::size_t end)
                    {
                        for (std::size_t job = begin; job < end; ++job)
                        {
                            const std::size_t r = job / col_blocks;
                            const int o0 = static_cast<int>(job % col_blocks) * block;
                            const int count = std::min(block, out_c - o0);
                            float* __restrict o = out + r * out_c + o0;
                            for (int k = 0; k < count; ++k)
                                o[k] = bias ? bias[o0 + k] : 0.0f;
                            for (int i = 0; i < in_c; ++i)
                            {
                                const float a = in[r * in_c + i];
                                const float* __restrict wr =
                                    w + static_cast<std::size_t>(i) * out_c + o0;
                                for (int k = 0; k < count; ++k)
                                    o[k] += a * wr[k];
                            }
                        }
                    });
    activation_tbb(act, rows, out_c, out);
}

void concat_channels_tbb(std::size_t pixels, int count, const float* const* in, const int* channels,
                         float* out)
{
    int total = 0;
    for (int k = 0; k < count; ++k)
        total += channels[k];
    parallel_chunks(pixels, 1024,
                    [&](std::size_t begin, std::size_t end)
                    {
                        for (std::size_t p = begin; p < end; ++p)
                        {
                            float* o = out + p * total;
                            for (int k = 0; k < count; ++k)
                            {
                                const float* ip = in[k] + p * channels[k];
                                std::copy(ip, ip + channels[k], o);
                                o += channels[k];
                            }
                        }
                    });
}

void add_tbb(std::size_t size, int count, const float* const* in, float* out)
{
    parallel_chunks(size, 16384,
                    [&](std::size_t begin, std::size_t end)
                    {
                        for (std::size_t i = begin; i < end; ++i)
                        {
                            float acc = 0.0f;
                            for (int k = 0; k < count; ++k)
                                acc += in[k][i];
                            out[i] = acc;
                        }
                    });
}

void affine_tbb(std::size_t pixels, int channels, const float* in, const float* scale,
                const float* shift, float* out)
{
    parallel_chunks(pixels, 1024,
                    [&](std::size_t begin, std::size_t end)
                    {
                        for (std::size_t p = begin; p < end; ++p)
                        {
                            const float* __restrict ip = in + p * channels;
                            float* __restrict o = out + p * channels;
                            for (int c = 0; c < channels; ++c)
                                o[c] = ip[c] * scale[c] + shift[c];
                        }
                    });
}

void activation_tbb(const Activation& act, std::size_t pixels, int channels, float* data)
{
    if (act.kind == ActivationKind::linear)
        return;
    parallel_chunks(pixels, 1024,
                    [&](std::size_t begin, std::size_t end)
                    {
                        for (std::size_t p = begin; p < end; ++p)
                            activate_pixel(act, channels, data + p * channels);
                    });
}

} // namespace atrous::infer::kernels
