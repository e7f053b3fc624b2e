// SPDX-License-Identifier: Apache-2.0
// Purpose: SIMD depthwise convolution (depth multiplier 1; any window, stride, dilation and
// padding), written once over the vector traits `V` (the ISA .cpp's Ymm/Zmm, which includes this
// with its ISA flags). A register tile holds MR consecutive output pixels of one vector of channels
// and sums every tap before one store, bias and ReLU fused; tiles whose window never leaves the
// image run without bounds checks. Tasks: output rows x channel groups.

// No include guard: each ISA's .cpp includes this once, inside its own anonymous namespace.

template <typename V> struct DepthwiseJob
{
    const Conv2dShape* s;
    const float* in;
    const float* w; // (kh, kw, C): tap-major, channels contiguous
    const float* bias;
    bool relu;
    typename V::Relu relu_params;
};

/// MR output pixels (image row `oy`, columns ox0..) x channels [c0, c0 + nc) (nc <= lanes) of
/// `image` into `o` (pixel ox0, channel c0; pixel stride ops). `Inside`: every tap of every
/// pixel is inside the image columns (no checks). `Full`: nc == lanes.
template <typename V, int MR, bool Inside, bool Full>
void depthwise_tile(const DepthwiseJob<V>& job, const float* image, int oy, int ox0, int c0, int nc,
                    float* o)
{
    using Reg = typename V::Reg;
    const Conv2dShape& s = *job.s;
    const std::size_t ips = s.in_stride();
    const std::size_t ops = s.out_stride();
    constexpr bool full = Full;
    Reg acc[MR];
    {
        const Reg b = job.bias ? V::load_partial(job.bias + c0, nc) : V::zero();
#pragma GCC unroll 16
        for (int p = 0; p < MR; ++p)
            acc[p] = b;
    }
    for (int ky = 0; ky < s.kh; ++ky)
    {
        const int iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
        if (iy < 0 || iy >= s.in_h)
            continue;
        const float* row = image + static_cast<std::size_t>(iy) * s.in_w * ips + c0;
        const float* wrow = job.w + static_cast<std::size_t>(ky) * s.kw * s.out_c + c0;
        for (int kx = 0; kx < s.kw; ++kx)
        {
            const Reg wv = full
                               ? V::loadu(wrow + static_cast<std::size_t>(kx) * s.out_c)
                               : V::load_partial(wrow + static_cast<std::size_t>(kx) * s.out_c, nc);
            const int ix0 = ox0 * s.stride_w - s.pad_left + kx * s.dilation_w;
#pragma GCC unroll 16
            for (int p = 0; p < MR; ++p)
            {
                const int ix = ix0 + p * s.stride_w;
                if (!Inside && (ix < 0 || ix >= s.in_w))
                    continue;
                const float* src = row + static_cast<std::size_t>(ix) * ips;
                const Reg x = full ? V::loadu(src) : V::load_partial(src, nc);
                acc[p] = V::fmadd(x, wv, acc[p]);
            }
        }
    }
#pragma GCC unroll 16
    for (int p = 0; p < MR; ++p)
    {
        const Reg r = job.relu ? V::relu(acc[p], job.relu_params) : acc[p];
        if (full)
            V::store(o + p * ops, r);
        else
            V::store_partial(o + p * ops, nc, r);
    }
}

/// Output row `i` (image i / out_h) over channels [c_begin, c_end) into `orow` (its pixel 0).
template <typename V>
void depthwise_row(const DepthwiseJob<V>& job, int i, int c_begin, int c_end, float* orow)
{
    constexpr int mr = V::dw_mr;
    const Conv2dShape& s = *job.s;
    const int n = i / s.out_h;
    const int oy = i % s.out_h;
    const std::size_t ops = s.out_stride();
    const float* image = job.in + static_cast<std::size_t>(n) * s.in_h * s.in_w * s.in_stride();
    // Columns whose taps all lie inside the image: [ox_lo, ox_hi). A negative pad_left (a region
    // of a wider buffer) leaves no border on the left: the division truncates toward zero, so
    // ox_lo is clamped to 0 (the loops below start at 0 anyway; this keeps [ox_lo, ox_hi) sane).
    const int k_eff = (s.kw - 1) * s.dilation_w;
    const int ox_lo = std::clamp((s.pad_left + s.stride_w - 1) / s.stride_w, 0, s.out_w);
    const int ox_hi =
        std::max(ox_lo, std::min(s.out_w, s.in_w - 1 - k_eff + s.pad_left >= 0
                                              ? (s.in_w - 1 - k_eff + s.pad_left) / s.stride_w + 1
                                              : 0));
    // Pixel tiles outer, channel vectors inner: a tile's window rows (a few pixels of every
    // channel) stay in L1 while the vectors sweep them, and the loads walk memory in order.
    const auto sweep = [&]<int MR, bool Inside>(int ox)
    {
        int c0 = c_begin;
        for (; c0 + V::lanes <= c_end; c0 += V::lanes)
            depthwise_tile<V, MR, Inside, true>(job, image, oy, ox, c0, V::lanes,
                                                orow + ox * ops + c0);
        if (c0 < c_end)
            depthwise_tile<V, MR, Inside, false>(job, image, oy, ox, c0, c_end - c0,
                                                 orow + ox * ops + c0);
    };
    int ox = 0;
    for (; ox < ox_lo; ++ox)
        sweep.template operator()<1, false>(ox);
    for (; ox + mr <= ox_hi; ox += mr)
        sweep.template operator()<mr, true>(ox);
    for (; ox < ox_hi; ++ox)
        sweep.template operator()<1, true>(ox);
    for (; ox < s.out_w; ++ox)
        sweep.template operator()<1, false>(ox);
}

/// The second pass of the activations the tiles do not fuse (softmax, sigmoid, tanh), once
/// every channel of a pixel is there; nothing for linear and ReLU.
inline void activate_unfused(const Activation& act, std::size_t pixels, int channels,
                             std::size_t stride, float* out)
{
    if (act.kind == ActivationKind::linear || act.kind == ActivationKind::relu)
        return;
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<std::size_t>(0, pixels),
                              [&](const oneapi::tbb::blocked_range<std::size_t>& r)
                              {
                                  for (std::size_t i = r.begin(); i != r.end(); ++i)
                                      activate_pixel(act, channels, out + i * stride);
                              });
}

/// depthwise_conv2d_tbb's contract; depth multiplier 1 (the caller falls back otherwise).
template <typename V>
void depthwise_conv(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                    const Activation& act, float* out)
{
    const DepthwiseJob<V> job{&s,
                              in,
                              w,
                              bias,
                              act.kind == ActivationKind::relu,
                              V::relu_params(act.max_value, act.negative_slope, act.threshold)};
    const int rows = s.n * s.out_h;
    // Channel groups of 4 vectors; rows x groups tasks, a few rows each.
    constexpr int k_group = 4 * V::lanes;
    const int groups = (s.out_c + k_group - 1) / k_group;
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range2d<int>(0, rows, 0, groups),
                              [&](const oneapi::tbb::blocked_range2d<int>& r)
                              {
                                  const int c_begin = r.cols().begin() * k_group;
                                  const int c_end = std::min(s.out_c, r.cols().end() * k_group);
                                  for (int i = r.rows().begin(); i != r.rows().end(); ++i)
                                      depthwise_row(job, i, c_begin, c_end,
                                                    out + static_cast<std::size_t>(i) * s.out_w *
                                                              s.out_stride());
                              });
    activate_unfused(act, static_cast<std::size_t>(rows) * s.out_w, s.out_c, s.out_stride(), out);
}
