// SPDX-License-Identifier: Apache-2.0
// Purpose: the AVX-512F kernels: the avx2/*.inl templates (GEMM convolution with 14 pixels x 32
// channels in 28 zmm accumulators, Winograd, depthwise, fused separable) over 16-lane zmm traits.
// Compiled alone with -mavx512f -mfma (CMakeLists.txt); dispatch.cpp only calls it when the CPU
// has AVX-512F.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
// GCC 12's avx512fintrin.h reductions/masks trip -Wmaybe-uninitialized on their own
// _mm512_undefined_ps() temporaries (a false positive inside the header).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "stages/infer/kernels/kernels.hpp"

#include <oneapi/tbb/blocked_range2d.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <immintrin.h>
#include <new>
#include <utility>

namespace atrous::infer::kernels
{
namespace
{

struct Zmm
{
    using Reg = __m512;
    static constexpr int lanes = 16;
    static constexpr int block = 32;    // output channels per packed block: NV = 2
    static constexpr int mr = 8;        // Winograd GEMM tile: 8 x 2 accumulators of the 32 zmm
    static constexpr int gemm_mr = 14;  // GEMM register tile rows (conv2d_gemm.inl)
    static constexpr int gemm_kc = 192; // K block: a [192][block] weight panel stays in L1
    static constexpr int dw_mr = 8;     // depthwise register tile: output pixels of one vector

    struct Relu
    {
        __m512 max_value, slope, threshold;
    };
    static Relu relu_params(float max_value, float slope, float threshold)
    {
        return {_mm512_set1_ps(max_value), _mm512_set1_ps(slope), _mm512_set1_ps(threshold)};
    }
    static __mmask16 mask(int count) // first `count` lanes (clamped to 0..16)
    {
        count = std::clamp(count, 0, 16);
        return static_cast<__mmask16>((1u << count) - 1u);
    }
    static __m512 zero() { return _mm512_setzero_ps(); }
    static __m512 load(const float* p) { return _mm512_load_ps(p); }
    static __m512 loadu(const float* p) { return _mm512_loadu_ps(p); }
    static __m512 set1(float x) { return _mm512_set1_ps(x); }
    static __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
    static __m512 sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
    static __m512 mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
    static __m512 fnmadd(__m512 a, __m512 b, __m512 c) { return _mm512_fnmadd_ps(a, b, c); }
    static __m512 broadcast(const float* p) { return _mm512_set1_ps(*p); }
    static __m512 fmadd(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
    static __m512 load_partial(const float* p, int count)
    {
        return _mm512_maskz_loadu_ps(mask(count), p);
    }
    static void store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
    static void storeu(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
    static void store_partial(float* p, int count, __m512 v)
    {
        _mm512_mask_storeu_ps(p, mask(count), v);
    }
    static float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }
    /// Keras ReLU: min(x, max) for x >= threshold, slope * (x - threshold) otherwise.
    static __m512 relu(__m512 x, const Relu& r)
    {
        const __m512 pos = _mm512_min_ps(x, r.max_value);
        const __m512 neg = _mm512_mul_ps(r.slope, _mm512_sub_ps(x, r.threshold));
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, r.threshold, _CMP_GE_OQ), neg, pos);
    }
};

// Order matters: each file builds on the ones before it.
// clang-format off
#include "stages/infer/kernels/avx2/conv2d_winograd.inl"
#include "stages/infer/kernels/avx2/depthwise_conv2d.inl"
#include "stages/infer/kernels/avx2/conv2d_gemm.inl"
#include "stages/infer/kernels/avx2/separable_conv2d.inl"
// clang-format on

} // namespace

PackedWeights conv2d_avx512_8x32_pack(const Conv2dShape& s, const float* hwio)
{
    // Packed by generic code: a std::vector instantiated here could be merged by the linker
    // with other translation units' copies and run ISA-specific code on a CPU without the ISA.
    return pack_cout_blocks(s, hwio, Zmm::block);
}

void conv2d_avx512_8x32(const Conv2dShape& s, const float* in, const float* packed_w,
                        const float* bias, const Activation& act, float* out)
{
    gemm_conv<Zmm>(s, in, packed_w, bias, act, out);
}

} // namespace atrous::infer::kernels

namespace atrous::infer::kernels
{

PackedWeights conv2d_avx512_wino_pack(const Conv2dShape& s, const float* hwio)
{
    return winograd_applies(s) ? pack_winograd(s, hwio, Zmm::block)
                               : pack_cout_blocks(s, hwio, Zmm::block);
}

void conv2d_avx512_wino(const Conv2dShape& s, const float* in, const float* packed_w,
                        const float* bias, const Activation& act, float* out)
{
    if (winograd_applies(s))
    {
        if (s.kh == 3)
            winograd_conv<Zmm, Wino43<Zmm>>(s, in, packed_w, bias, act, out);
        else
            winograd_conv<Zmm, Wino32<Zmm>>(s, in, packed_w, bias, act, out);
    }
    else
        gemm_conv<Zmm>(s, in, packed_w, bias, act, out);
}

void depthwise_conv2d_avx512(const Conv2dShape& s, const float* in, const float* w,
                             const float* bias, const Activation& act, float* out)
{
    if (s.out_c != s.in_c)
        depthwise_conv2d_tbb(s, in, w, bias, act, out);
    else
        depthwise_conv<Zmm>(s, in, w, bias, act, out);
}

PackedWeights separable_conv2d_avx512_pack(const Conv2dShape& s, int depth_multiplier,
                                           const float* pointwise)
{
    Conv2dShape p;
    p.in_c = s.in_c * depth_multiplier;
    p.out_c = s.out_c;
    return pack_cout_blocks(p, pointwise, Zmm::block);
}

void separable_conv2d_avx512(const Conv2dShape& s, int depth_multiplier, const float* in,
                             const float* dw, const float* pw_packed, const float* bias,
                             const Activation& act, float* out)
{
    separable_conv<Zmm>(s, depth_multiplier, in, dw, pw_packed, bias, act, out);
}

} // namespace atrous::infer::kernels
