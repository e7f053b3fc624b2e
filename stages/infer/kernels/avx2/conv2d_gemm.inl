// SPDX-License-Identifier: Apache-2.0
// Purpose: the direct convolutions (everything Winograd does not take: 1x1 pointwise, strided,
// few channels, other window sizes) as a cache-blocked GEMM, written once over the vector traits
// `V` (the ISA .cpp's Ymm/Zmm: lanes, load, broadcast, fmadd, masked load/store, relu;
// included after conv2d_winograd.inl and depthwise_conv2d.inl, same ISA flags).
// M = output pixels (all images, row-major), K = taps x in_c (the packed weights' order), N =
// out_c. Per task (a range of MC pixels x a group of cout blocks) and per K block of KC:
// - pack A: the MC pixels' inputs for the block's (tap, channel) pairs (an im2col of KC columns;
//   a plain copy for 1x1 convolutions; padding reads zeros) into panels of [MR][KC] floats, so
//   every broadcast is a constant displacement from one pointer;
// - for each cout block: its [KC][block] weight panel stays in L1 while the register tiles
//   (MR pixels x block channels) sweep the A panels (in L2); partial sums go through the output
//   between K blocks, bias is added by the first and the activation by the last.

// No include guard: each ISA's .cpp includes this once, inside its own anonymous namespace.

/// dst[0, n) = src[0, n) / = 0 (own loops: a standard algorithm instantiated under ISA flags
/// could be the copy the linker keeps for generic code too).
template <typename V> inline void copy_floats(float* dst, const float* src, int n)
{
    int i = 0;
    for (; i + V::lanes <= n; i += V::lanes)
        V::storeu(dst + i, V::loadu(src + i));
    if (i < n)
        V::store_partial(dst + i, n - i, V::load_partial(src + i, n - i));
}
template <typename V> inline void zero_floats(float* dst, int n)
{
    int i = 0;
    for (; i + V::lanes <= n; i += V::lanes)
        V::storeu(dst + i, V::zero());
    if (i < n)
        V::store_partial(dst + i, n - i, V::zero());
}

template <typename V> struct GemmJob
{
    const Conv2dShape* s;
    const float* in;
    const float* packed; // [cout blocks][K][V::block]
    const float* bias;
    float* out;
    bool relu;
    typename V::Relu relu_params;
    int k;              // K = kh * kw * in_c
    bool pointwise;     // 1x1, stride 1, no padding: pixel m of the output reads pixel m
    std::size_t pixels; // M
};

/// C tile of `rows` (<= MR) pixels x `nc` channels (<= NV vectors) at `c` (pixel stride ldc):
/// first: bias (or 0) + A B, else C + A B; last: the fused ReLU. A: an [MR][KC] panel.
template <typename V, int MR, int NV>
void gemm_tile(const GemmJob<V>& job, const float* a, int kc, const float* b, const float* bias,
               float* c, std::size_t ldc, int rows, int nc, bool first, bool last)
{
    using Reg = typename V::Reg;
    constexpr int kc_max = V::gemm_kc;
    constexpr int nr = V::block;
    Reg acc[MR][NV];
    if (first)
    {
        Reg bv[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v)
            bv[v] = bias ? V::load_partial(bias + V::lanes * v, nc - V::lanes * v) : V::zero();
#pragma GCC unroll 16
        for (int p = 0; p < MR; ++p)
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v)
                acc[p][v] = bv[v];
    }
    else
    {
#pragma GCC unroll 16
        for (int p = 0; p < MR; ++p)
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v)
                acc[p][v] = p < rows
                                ? V::load_partial(c + p * ldc + V::lanes * v, nc - V::lanes * v)
                                : V::zero();
    }
    for (int k = 0; k < kc; ++k, b += nr, ++a)
    {
        Reg w[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v)
            w[v] = V::load(b + V::lanes * v);
#pragma GCC unroll 16
        for (int p = 0; p < MR; ++p)
        {
            const Reg x = V::broadcast(a + p * kc_max);
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v)
                acc[p][v] = V::fmadd(x, w[v], acc[p][v]);
        }
    }
#pragma GCC unroll 16
    for (int p = 0; p < MR; ++p)
    {
        if (p >= rows)
            break;
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v)
        {
            const Reg r = last && job.relu ? V::relu(acc[p][v], job.relu_params) : acc[p][v];
            const int valid = nc - V::lanes * v;
            if (valid >= V::lanes)
                V::store(c + p * ldc + V::lanes * v, r);
            else
                V::store_partial(c + p * ldc + V::lanes * v, valid, r);
        }
    }
}

/// Packs pixels [m0, m0 + rows) x K columns [k0, k0 + kc) into `tiles` panels of [MR][KC]
/// (rows past `rows` zeroed).
template <typename V>
void gemm_pack_a(const GemmJob<V>& job, std::size_t m0, int rows, int k0, int kc, float* panels)
{
    constexpr int mr = V::gemm_mr;
    constexpr int kc_max = V::gemm_kc;
    const Conv2dShape& s = *job.s;
    const std::size_t ips = s.in_stride();
    const int tiles = (rows + mr - 1) / mr;
    // The block's first (tap, channel) and pixel m0's coordinates, stepped from there on (no
    // divisions per pixel or per tap: with few input channels the pack is a third of the work).
    const int tap0 = k0 / s.in_c;
    const int ci0 = k0 - tap0 * s.in_c;
    const int ky0 = tap0 / s.kw;
    const int kx0 = tap0 - ky0 * s.kw;
    int ox = static_cast<int>(m0 % s.out_w);
    int oy = static_cast<int>(m0 / s.out_w % s.out_h);
    std::size_t n = m0 / s.out_w / s.out_h;
    for (int r = 0; r < tiles * mr; ++r)
    {
        float* dst = panels + static_cast<std::size_t>(r) * kc_max; // tile r / mr, row r % mr
        if (r >= rows)
        {
            zero_floats<V>(dst, kc);
            continue;
        }
        if (job.pointwise)
        {
            copy_floats<V>(dst, job.in + (m0 + r) * ips + k0, kc);
            continue;
        }
        const float* image = job.in + n * s.in_h * s.in_w * ips;
        int ci = ci0, ky = ky0, kx = kx0;
        for (int k = k0; k < k0 + kc;)
        {
            const int run = std::min(s.in_c - ci, k0 + kc - k);
            const int iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
            const int ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
            float* d = dst + (k - k0);
            if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w)
            {
                if (run == 1)
                    *d = 0.0f;
                else
                    zero_floats<V>(d, run);
            }
            else
            {
                const float* src = image + (static_cast<std::size_t>(iy) * s.in_w + ix) * ips + ci;
                if (run == 1)
                    *d = *src;
                else
                    copy_floats<V>(d, src, run);
            }
            k += run;
            ci = 0;
            if (++kx == s.kw)
            {
                kx = 0;
                ++ky;
            }
        }
        if (++ox == s.out_w)
        {
            ox = 0;
            if (++oy == s.out_h)
            {
                oy = 0;
                ++n;
            }
        }
    }
}

/// Pixels [m0, m0 + rows) x cout blocks [cb0, cb1) on the calling thread.
template <typename V>
void gemm_task(const GemmJob<V>& job, std::size_t m0, int rows, int cb0, int cb1, float* panels)
{
    constexpr int mr = V::gemm_mr;
    constexpr int kc_max = V::gemm_kc;
    const Conv2dShape& s = *job.s;
    const std::size_t ldc = s.out_stride();
    const int tiles = (rows + mr - 1) / mr;
    // K blocks of equal size (a multiple of 8 up to KC): K = 256 runs as 2 x 128, not 192 + 64.
    const int k_blocks = (job.k + kc_max - 1) / kc_max;
    const int k_step = std::min(kc_max, ((job.k + k_blocks - 1) / k_blocks + 7) / 8 * 8);
    for (int k0 = 0; k0 < job.k; k0 += k_step)
    {
        const int kc = std::min(k_step, job.k - k0);
        const bool first = k0 == 0;
        const bool last = k0 + kc == job.k;
        gemm_pack_a(job, m0, rows, k0, kc, panels);
        for (int cb = cb0; cb < cb1; ++cb)
        {
            const int nc = std::min(V::block, s.out_c - cb * V::block);
            const float* b = job.packed + (static_cast<std::size_t>(cb) * job.k + k0) * V::block;
            const float* bias = job.bias ? job.bias + cb * V::block : nullptr;
            for (int t = 0; t < tiles; ++t)
            {
                const float* a = panels + static_cast<std::size_t>(t) * mr * kc_max;
                float* c = job.out + (m0 + static_cast<std::size_t>(t) * mr) * ldc + cb * V::block;
                const int r = std::min(mr, rows - t * mr);
                if (nc > V::lanes)
                    gemm_tile<V, mr, 2>(job, a, kc, b, bias, c, ldc, r, nc, first, last);
                else
                    gemm_tile<V, mr, 1>(job, a, kc, b, bias, c, ldc, r, nc, first, last);
            }
        }
    }
}

/// Pixels [m0, m1) of a conv with NO (<= k_narrow_max_out_channels) output channels: P pixels
/// at a time, per output channel one vector accumulator summing over taps and input channels,
/// reduced at the end; bias and every activation applied per pixel. `wn`: [NO][K].
template <typename V, int NO>
void narrow_range(const Conv2dShape& s, const float* in, const float* wn, const float* bias,
                  const Activation& act, float* out, std::size_t m0, std::size_t m1)
{
    using Reg = typename V::Reg;
    constexpr int P = NO <= 2 ? 4 : 2;
    const std::size_t ips = s.in_stride();
    const std::size_t ops = s.out_stride();
    const std::size_t k = static_cast<std::size_t>(s.kh) * s.kw * s.in_c;
    // Coordinates of pixel m0, then stepped along (no divisions per pixel).
    int cx = static_cast<int>(m0 % s.out_w);
    int cy = static_cast<int>(m0 / s.out_w % s.out_h);
    std::size_t cn = m0 / s.out_w / s.out_h;
    for (std::size_t m = m0; m < m1; m += P)
    {
        const int count = static_cast<int>(std::min<std::size_t>(P, m1 - m));
        int oy[P], ox[P];
        const float* image[P];
        for (int p = 0; p < P; ++p)
        {
            ox[p] = cx;
            oy[p] = cy;
            image[p] = in + cn * s.in_h * s.in_w * ips;
            if (p < count && ++cx == s.out_w)
            {
                cx = 0;
                if (++cy == s.out_h)
                {
                    cy = 0;
                    ++cn;
                }
            }
        }
        Reg acc[P][NO];
#pragma GCC unroll 4
        for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
            for (int o = 0; o < NO; ++o)
                acc[p][o] = V::zero();
        for (int tap = 0; tap < s.kh * s.kw; ++tap)
        {
            const int ky = tap / s.kw; // once per tap and P pixels
            const int kx = tap - ky * s.kw;
            const float* src[P];
            for (int p = 0; p < P; ++p)
            {
                const int iy = oy[p] * s.stride_h - s.pad_top + ky * s.dilation_h;
                const int ix = ox[p] * s.stride_w - s.pad_left + kx * s.dilation_w;
                src[p] = p < count && iy >= 0 && iy < s.in_h && ix >= 0 && ix < s.in_w
                             ? image[p] + (static_cast<std::size_t>(iy) * s.in_w + ix) * ips
                             : nullptr;
            }
            const float* wt = wn + static_cast<std::size_t>(tap) * s.in_c;
            for (int c0 = 0; c0 < s.in_c; c0 += V::lanes)
            {
                const int nc = std::min(V::lanes, s.in_c - c0);
                Reg w[NO];
#pragma GCC unroll 4
                for (int o = 0; o < NO; ++o)
                    w[o] = nc == V::lanes ? V::loadu(wt + o * k + c0)
                                          : V::load_partial(wt + o * k + c0, nc);
#pragma GCC unroll 4
                for (int p = 0; p < P; ++p)
                {
                    if (!src[p])
                        continue;
                    const Reg x =
                        nc == V::lanes ? V::loadu(src[p] + c0) : V::load_partial(src[p] + c0, nc);
#pragma GCC unroll 4
                    for (int o = 0; o < NO; ++o)
                        acc[p][o] = V::fmadd(x, w[o], acc[p][o]);
                }
            }
        }
        for (int p = 0; p < count; ++p)
        {
            float* o_px = out + (m + p) * ops;
#pragma GCC unroll 4
            for (int o = 0; o < NO; ++o)
                o_px[o] = V::hsum(acc[p][o]) + (bias ? bias[o] : 0.0f);
            activate_pixel(act, NO, o_px);
        }
    }
}

template <typename V, int NO>
void narrow_conv(const Conv2dShape& s, const float* in, const float* wn, const float* bias,
                 const Activation& act, float* out, std::size_t pixels)
{
    oneapi::tbb::parallel_for(
        oneapi::tbb::blocked_range<std::size_t>(0, pixels, 256),
        [&](const oneapi::tbb::blocked_range<std::size_t>& r)
        { narrow_range<V, NO>(s, in, wn, bias, act, out, r.begin(), r.end()); });
}

template <typename V>
void gemm_conv(const Conv2dShape& s, const float* in, const float* packed_w, const float* bias,
               const Activation& act, float* out)
{
    constexpr int mr = V::gemm_mr;
    const GemmJob<V> job{&s,
                         in,
                         packed_w,
                         bias,
                         out,
                         act.kind == ActivationKind::relu,
                         V::relu_params(act.max_value, act.negative_slope, act.threshold),
                         s.kh * s.kw * s.in_c,
                         s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 &&
                             s.pad_top == 0 && s.pad_left == 0 && s.in_h == s.out_h &&
                             s.in_w == s.out_w,
                         static_cast<std::size_t>(s.n) * s.out_h * s.out_w};
    if (job.pixels == 0)
        return;
    const int blocks = (s.out_c + V::block - 1) / V::block;
    if (narrow_applies(s))
    {
        const float* wn = packed_w + static_cast<std::size_t>(blocks) * job.k * V::block;
        static_assert(k_narrow_max_out_channels == 4);
        switch (s.out_c)
        {
        case 1:
            return narrow_conv<V, 1>(s, in, wn, bias, act, out, job.pixels);
        case 2:
            return narrow_conv<V, 2>(s, in, wn, bias, act, out, job.pixels);
        case 3:
            return narrow_conv<V, 3>(s, in, wn, bias, act, out, job.pixels);
        default:
            return narrow_conv<V, 4>(s, in, wn, bias, act, out, job.pixels);
        }
    }
    // Tasks: MC pixels (whole register tiles) x groups of cout blocks; more groups only when
    // there are too few pixel ranges to keep every thread busy.
    const int threads = oneapi::tbb::this_task_arena::max_concurrency();
    constexpr int k_tiles_per_task = 16;
    const std::size_t total_tiles = (job.pixels + mr - 1) / mr;
    std::size_t tiles_per_task = std::min<std::size_t>(k_tiles_per_task, total_tiles);
    const std::size_t want_tasks = 4 * static_cast<std::size_t>(threads);
    while (tiles_per_task > 1 && (total_tiles + tiles_per_task - 1) / tiles_per_task < want_tasks)
        tiles_per_task = (tiles_per_task + 1) / 2;
    const std::size_t mc = tiles_per_task * mr;
    const std::size_t m_tasks = (job.pixels + mc - 1) / mc;
    int groups = 1;
    while (m_tasks * groups < want_tasks && groups < blocks)
        ++groups;
    const int per_group = (blocks + groups - 1) / groups;
    groups = (blocks + per_group - 1) / per_group;
    const std::size_t panel_floats = mc * V::gemm_kc;

    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<std::size_t>(0, m_tasks * groups),
                              [&](const oneapi::tbb::blocked_range<std::size_t>& r)
                              {
                                  float* panels = task_scratch(panel_floats);
                                  for (std::size_t i = r.begin(); i != r.end(); ++i)
                                  {
                                      const std::size_t mt = i / groups;
                                      const int g = static_cast<int>(i % groups);
                                      const std::size_t m0 = mt * mc;
                                      const int rows =
                                          static_cast<int>(std::min(mc, job.pixels - m0));
                                      gemm_task(job, m0, rows, g * per_group,
                                                std::min(blocks, (g + 1) * per_group), panels);
                                  }
                              });
    activate_unfused(act, job.pixels, s.out_c, s.out_stride(), out);
}
