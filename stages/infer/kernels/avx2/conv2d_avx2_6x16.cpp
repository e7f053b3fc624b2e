// SPDX-License-Identifier: Apache-2.0
// Purpose: the AVX2+FMA kernels: the .inl templates (GEMM convolution with 6 pixels x 16 channels
// in 12 ymm accumulators, Winograd, depthwise, fused separable) over 8-lane ymm traits. Compiled
// alone with -mavx2 -mfma (CMakeLists.txt); dispatch.cpp only calls it when the CPU has both.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
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

struct Ymm
{
    using Reg = __m256;
    static constexpr int lanes = 8;
    static constexpr int block = 16;    // output channels per packed block: NV = 2
    static constexpr int mr = 6;        // Winograd GEMM tile: 6 x 2 accumulators + 3 <= 16 regs
    static constexpr int gemm_mr = 6;   // GEMM register tile rows (conv2d_gemm.inl)
    static constexpr int gemm_kc = 256; // K block: a [256][block] weight panel stays in L1
    static constexpr int dw_mr = 8;     // depthwise register tile: output pixels of one vector

    struct Relu
    {
        __m256 max_value, slope, threshold;
    };
    static Relu relu_params(float max_value, float slope, float threshold)
    {
        return {_mm256_set1_ps(max_value), _mm256_set1_ps(slope), _mm256_set1_ps(threshold)};
    }
    static __m256 mask(int count) // first `count` lanes (clamped to 0..8)
    {
        const __m256i lanes_idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(count), lanes_idx));
    }
    static __m256 zero() { return _mm256_setzero_ps(); }
    static __m256 load(const float* p) { return _mm256_load_ps(p); }
    static __m256 loadu(const float* p) { return _mm256_loadu_ps(p); }
    static __m256 set1(float x) { return _mm256_set1_ps(x); }
    static __m256 add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
    static __m256 sub(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
    static __m256 mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
    static __m256 fnmadd(__m256 a, __m256 b, __m256 c) { return _mm256_fnmadd_ps(a, b, c); }
    static __m256 broadcast(const float* p) { return _mm256_broadcast_ss(p); }
    static __m256 fmadd(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
    static __m256 load_partial(const float* p, int count)
    {
        return _mm256_maskload_ps(p, _mm256_castps_si256(mask(count)));
    }
    static void store(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
    static void storeu(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
    static void store_partial(float* p, int count, __m256 v)
    {
        _mm256_maskstore_ps(p, _mm256_castps_si256(mask(count)), v);
    }
    static float hsum(__m256 v)
    {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    /// Keras ReLU: min(x, max) for x >= threshold, slope * (x - threshold) otherwise.
    static __m256 relu(__m256 x, const Relu& r)
    {
        const __m256 pos = _mm256_min_ps(x, r.max_value);
        const __m256 neg = _mm256_mul_ps(r.slope, _mm256_sub_ps(x, r.threshold));
        return _mm256_blendv_ps(neg, pos, _mm256_cmp_ps(x, r.threshold, _CMP_GE_OQ));
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

PackedWeights conv2d_avx2_6x16_pack(const Conv2dShape& s, const float* hwio)
{
    // Packed by generic code: a std::vector instantiated here could be merged by the linker
    // with other translation units' copies and run ISA-specific code on a CPU without the ISA.
    return pack_cout_blocks(s, hwio, Ymm::block);
}

void conv2d_avx2_6x16(const Conv2dShape& s, const float* in, const float* packed_w,
                      const float* bias, const Activation& act, float* out)
{
    gemm_conv<Ymm>(s, in, packed_w, bias, act, out);
}

} // namespace atrous::infer::kernels

namespace atrous::infer::kernels
{

PackedWeights conv2d_avx2_wino_pack(const Conv2dShape& s, const float* hwio)
{
    return winograd_applies(s) ? pack_winograd(s, hwio, Ymm::block)
                               : pack_cout_blocks(s, hwio, Ymm::block);
}

void conv2d_avx2_wino(const Conv2dShape& s, const float* in, const float* packed_w,
                      const float* bias, const Activation& act, float* out)
{
    if (winograd_applies(s))
    {
        if (s.kh == 3)
            winograd_conv<Ymm, Wino43<Ymm>>(s, in, packed_w, bias, act, out);
        else
            winograd_conv<Ymm, Wino32<Ymm>>(s, in, packed_w, bias, act, out);
    }
    else
        gemm_conv<Ymm>(s, in, packed_w, bias, act, out);
}

void depthwise_conv2d_avx2(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                           const Activation& act, float* out)
{
    if (s.out_c != s.in_c)
        depthwise_conv2d_tbb(s, in, w, bias, act, out);
    else
        depthwise_conv<Ymm>(s, in, w, bias, act, out);
}

PackedWeights separable_conv2d_avx2_pack(const Conv2dShape& s, int depth_multiplier,
                                         const float* pointwise)
{
    Conv2dShape p;
    p.in_c = s.in_c * depth_multiplier;
    p.out_c = s.out_c;
    return pack_cout_blocks(p, pointwise, Ymm::block);
}

void separable_conv2d_avx2(const Conv2dShape& s, int depth_multiplier, const float* in,
                           const float* dw, const float* pw_packed, const float* bias,
                           const Activation& act, float* out)
{
    separable_conv<Ymm>(s, depth_multiplier, in, dw, pw_packed, bias, act, out);
}

} // namespace atrous::infer::kernels
