// SPDX-License-Identifier: Apache-2.0
// Purpose: the AVX-512 BF16 direct convolution: conv2d_gemm.inl's cache-blocked GEMM (M = output
// pixels, K = taps x in_c, N = out_c) with bf16 operands and fp32 accumulators. The A panels are
// packed as bf16 (VCVTNEPS2BF16 while copying the im2col columns: the inputs are converted once
// per K block, not stored as bf16 between layers), the weights were converted at load
// (pack_bf16_pairs). The register tile is 14 pixels x 32 channels (28 zmm); per pixel, vector and
// pair of K one VDPBF16PS: a broadcast (a[k], a[k+1]) pair times 16 channels' weight pairs.
// Compiled alone with -mavx512f -mavx512bw -mavx512vl -mavx512bf16 (CMakeLists.txt); dispatch only
// calls it when the CPU has them.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized" // GCC 12's avx512 headers, see avx512/
#endif

#include "stages/infer/kernels/kernels.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <immintrin.h>
#include <new>

namespace atrous::infer::kernels
{
namespace
{

constexpr int k_mr = 14;    // register tile rows (pixels)
constexpr int k_block = 32; // output channels per packed block: 2 zmm
constexpr int k_kc = 384;   // K block in bf16 elements: the [192 pairs][32] weight panel is 24 KB

/// Per-thread scratch of 64-byte aligned bf16 panels, reused by every call (as task_scratch()
/// in avx2/conv2d_winograd.inl: a task body takes it and is done before the thread runs another).
struct PanelScratch
{
    std::uint16_t* data = nullptr;
    std::size_t size = 0;
    PanelScratch() = default;
    PanelScratch(const PanelScratch&) = delete;
    PanelScratch& operator=(const PanelScratch&) = delete;
    ~PanelScratch() { release(); }
    void release()
    {
        if (data)
            ::operator delete (data, std::align_val_t{64});
        data = nullptr;
        size = 0;
    }
    std::uint16_t* get(std::size_t count)
    {
        if (count > size)
        {
            release();
            data = static_cast<std::uint16_t*>(
                ::operator new (count * sizeof(std::uint16_t), std::align_val_t{64}));
            size = count;
        }
        return data;
    }
};

std::uint16_t* panel_scratch(std::size_t count)
{
    thread_local PanelScratch scratch;
    return scratch.get(count);
}

__mmask16 mask16(int count)
{
    count = std::clamp(count, 0, 16);
    return static_cast<__mmask16>((1u << count) - 1u);
}

/// dst[0, n) = bf16(src[0, n)), 16 at a time.
inline void convert_run(std::uint16_t* dst, const float* src, int n)
{
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256(
            reinterpret_cast<__m256i*>(dst + i),
            reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i))));
    if (i < n)
    {
        const __mmask16 m = mask16(n - i);
        const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
        _mm256_mask_storeu_epi16(dst + i, m, reinterpret_cast<__m256i>(h));
    }
}

inline void zero_run(std::uint16_t* dst, int n)
{
    int i = 0;
    for (; i + 32 <= n; i += 32)
        _mm512_storeu_si512(dst + i, _mm512_setzero_si512());
    if (i < n)
        _mm512_mask_storeu_epi16(dst + i, static_cast<__mmask32>((1ull << (n - i)) - 1u),
                                 _mm512_setzero_si512());
}

struct Relu
{
    __m512 max_value, slope, threshold;
};

inline __m512 relu(__m512 x, const Relu& r)
{
    const __m512 pos = _mm512_min_ps(x, r.max_value);
    const __m512 neg = _mm512_mul_ps(r.slope, _mm512_sub_ps(x, r.threshold));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, r.threshold, _CMP_GE_OQ), neg, pos);
}

struct Job
{
    const Conv2dShape* s;
    const float* in;
    const float* packed; // [cout blocks][K/2][32] bf16 pairs
    const float* bias;
    float* out;
    bool relu;
    Relu relu_params;
    int k;     // K = kh * kw * in_c
    int pairs; // ceil(K / 2)
    bool pointwise;
    std::size_t pixels;
};

/// C tile of `rows` (<= MR) pixels x `nc` channels (<= 16 NV) at `c`: first: bias (or 0) + A B,
/// else C + A B; last: the fused ReLU. A: a [MR][k_kc] bf16 panel, `np` pairs of K.
template <int NV>
void tile(const Job& job, const std::uint16_t* a, int np, const float* b, const float* bias,
          float* c, std::size_t ldc, int rows, int nc, bool first, bool last)
{
    __m512 acc[k_mr][NV];
    if (first)
    {
        __m512 bv[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v)
            bv[v] = bias ? _mm512_maskz_loadu_ps(mask16(nc - 16 * v), bias + 16 * v)
                         : _mm512_setzero_ps();
#pragma GCC unroll 14
        for (int p = 0; p < k_mr; ++p)
#pragma GCC unroll 2
            for (int v = 0; v < NV; ++v)
                acc[p][v] = bv[v];
    }
    else
    {
#pragma GCC unroll 14
        for (int p = 0; p < k_mr; ++p)
#pragma GCC unroll 2
            for (int v = 0; v < NV; ++v)
                acc[p][v] = p < rows
                                ? _mm512_maskz_loadu_ps(mask16(nc - 16 * v), c + p * ldc + 16 * v)
                                : _mm512_setzero_ps();
    }
    for (int k = 0; k < np; ++k, b += k_block, a += 2)
    {
        __m512bh w[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v)
            w[v] = reinterpret_cast<__m512bh>(_mm512_load_ps(b + 16 * v));
#pragma GCC unroll 14
        for (int p = 0; p < k_mr; ++p)
        {
            std::int32_t pair;
            std::memcpy(&pair, a + p * k_kc, 4);
            const __m512bh x = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
#pragma GCC unroll 2
            for (int v = 0; v < NV; ++v)
                acc[p][v] = _mm512_dpbf16_ps(acc[p][v], x, w[v]);
        }
    }
#pragma GCC unroll 14
    for (int p = 0; p < k_mr; ++p)
    {
        if (p >= rows)
            break;
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v)
        {
            const __m512 r = last && job.relu ? relu(acc[p][v], job.relu_params) : acc[p][v];
            const int valid = nc - 16 * v;
            if (valid >= 16)
                _mm512_storeu_ps(c + p * ldc + 16 * v, r);
            else
                _mm512_mask_storeu_ps(c + p * ldc + 16 * v, mask16(valid), r);
        }
    }
}

/// Packs pixels [m0, m0 + rows) x K columns [k0, k0 + kc) as bf16 into panels of [MR][k_kc]
/// (rows past `rows` zeroed; an odd kc gets a zero partner for its last element).
void pack_a(const Job& job, std::size_t m0, int rows, int k0, int kc, std::uint16_t* panels)
{
    const Conv2dShape& s = *job.s;
    const std::size_t ips = s.in_stride();
    const int tiles = (rows + k_mr - 1) / k_mr;
    const int kc_even = (kc + 1) / 2 * 2;
    const int tap0 = k0 / s.in_c;
    const int ci0 = k0 - tap0 * s.in_c;
    const int ky0 = tap0 / s.kw;
    const int kx0 = tap0 - ky0 * s.kw;
    int ox = static_cast<int>(m0 % s.out_w);
    int oy = static_cast<int>(m0 / s.out_w % s.out_h);
    std::size_t n = m0 / s.out_w / s.out_h;
    for (int r = 0; r < tiles * k_mr; ++r)
    {
        std::uint16_t* dst = panels + static_cast<std::size_t>(r) * k_kc;
        if (r >= rows)
        {
            zero_run(dst, kc_even);
            continue;
        }
        if (kc_even != kc)
            dst[kc] = 0;
        if (job.pointwise)
        {
            convert_run(dst, job.in + (m0 + r) * ips + k0, kc);
            continue;
        }
        const float* image = job.in + n * s.in_h * s.in_w * ips;
        int ci = ci0, ky = ky0, kx = kx0;
        for (int k = k0; k < k0 + kc;)
        {
            const int run = std::min(s.in_c - ci, k0 + kc - k);
            const int iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
            const int ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
            std::uint16_t* d = dst + (k - k0);
            if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w)
            {
                if (run == 1)
                    *d = 0;
                else
                    zero_run(d, run);
            }
            else
            {
                const float* src = image + (static_cast<std::size_t>(iy) * s.in_w + ix) * ips + ci;
                if (run == 1)
                    *d = to_bf16(*src); // same rounding as the instruction (kernels.hpp)
                else
                    convert_run(d, src, run);
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
void task(const Job& job, std::size_t m0, int rows, int cb0, int cb1, std::uint16_t* panels)
{
    const Conv2dShape& s = *job.s;
    const std::size_t ldc = s.out_stride();
    const int tiles = (rows + k_mr - 1) / k_mr;
    // K blocks of equal size, even (whole pairs) and a multiple of 16 where possible.
    const int k_blocks = (job.k + k_kc - 1) / k_kc;
    const int k_step = std::min(k_kc, ((job.k + k_blocks - 1) / k_blocks + 15) / 16 * 16);
    for (int k0 = 0; k0 < job.k; k0 += k_step)
    {
        const int kc = std::min(k_step, job.k - k0);
        const int np = (kc + 1) / 2;
        const bool first = k0 == 0;
        const bool last = k0 + kc == job.k;
        pack_a(job, m0, rows, k0, kc, panels);
        for (int cb = cb0; cb < cb1; ++cb)
        {
            const int nc = std::min(k_block, s.out_c - cb * k_block);
            const float* b =
                job.packed + (static_cast<std::size_t>(cb) * job.pairs + k0 / 2) * k_block;
            const float* bias = job.bias ? job.bias + cb * k_block : nullptr;
            for (int t = 0; t < tiles; ++t)
            {
                const std::uint16_t* a = panels + static_cast<std::size_t>(t) * k_mr * k_kc;
                float* c = job.out + (m0 + static_cast<std::size_t>(t) * k_mr) * ldc + cb * k_block;
                const int r = std::min(k_mr, rows - t * k_mr);
                if (nc > 16)
                    tile<2>(job, a, np, b, bias, c, ldc, r, nc, first, last);
                else
                    tile<1>(job, a, np, b, bias, c, ldc, r, nc, first, last);
            }
        }
    }
}

} // namespace

PackedWeights conv2d_avx512bf16_14x32_pack(const Conv2dShape& s, const float* hwio)
{
    return pack_bf16_pairs(s, hwio, k_block); // generic code (see avx512/conv2d_avx512_8x32.cpp)
}

void conv2d_avx512bf16_14x32(const Conv2dShape& s, const float* in, const float* packed_w,
                             const float* bias, const Activation& act, float* out)
{
    const int k = s.kh * s.kw * s.in_c;
    const Job job{&s,
                  in,
                  packed_w,
                  bias,
                  out,
                  act.kind == ActivationKind::relu,
                  Relu{_mm512_set1_ps(act.max_value), _mm512_set1_ps(act.negative_slope),
                       _mm512_set1_ps(act.threshold)},
                  k,
                  (k + 1) / 2,
                  s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
                      s.pad_left == 0 && s.in_h == s.out_h && s.in_w == s.out_w,
                  static_cast<std::size_t>(s.n) * s.out_h * s.out_w};
    if (job.pixels == 0)
        return;
    const int blocks = (s.out_c + k_block - 1) / k_block;
    // Tasks as in gemm_conv(): MC pixels (whole register tiles) x groups of cout blocks.
    const int threads = oneapi::tbb::this_task_arena::max_concurrency();
    constexpr int k_tiles_per_task = 16;
    const std::size_t total_tiles = (job.pixels + k_mr - 1) / k_mr;
    std::size_t tiles_per_task = std::min<std::size_t>(k_tiles_per_task, total_tiles);
    const std::size_t want_tasks = 4 * static_cast<std::size_t>(threads);
    while (tiles_per_task > 1 && (total_tiles + tiles_per_task - 1) / tiles_per_task < want_tasks)
        tiles_per_task = (tiles_per_task + 1) / 2;
    const std::size_t mc = tiles_per_task * k_mr;
    const std::size_t m_tasks = (job.pixels + mc - 1) / mc;
    int groups = 1;
    while (m_tasks * groups < want_tasks && groups < blocks)
        ++groups;
    const int per_group = (blocks + groups - 1) / groups;
    groups = (blocks + per_group - 1) / per_group;
    const std::size_t panel_elements = mc * k_kc;

    oneapi::tbb::parallel_for(
        oneapi::tbb::blocked_range<std::size_t>(0, m_tasks * groups),
        [&](const oneapi::tbb::blocked_range<std::size_t>& r)
        {
            std::uint16_t* panels = panel_scratch(panel_elements);
            for (std::size_t i = r.begin(); i != r.end(); ++i)
            {
                const std::size_t mt = i / groups;
                const int g = static_cast<int>(i % groups);
                const std::size_t m0 = mt * mc;
                const int rows = static_cast<int>(std::min(mc, job.pixels - m0));
                task(job, m0, rows, g * per_group, std::min(blocks, (g + 1) * per_group), panels);
            }
        });
    if (act.kind != ActivationKind::linear && act.kind != ActivationKind::relu)
        oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<std::size_t>(0, job.pixels),
                                  [&](const oneapi::tbb::blocked_range<std::size_t>& r)
                                  {
                                      for (std::size_t i = r.begin(); i != r.end(); ++i)
                                          activate_pixel(act, s.out_c, out + i * s.out_stride());
                                  });
}

} // namespace atrous::infer::kernels
