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

#include "stages/infer/kernels/avx512/zmm_traits.inl"

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
