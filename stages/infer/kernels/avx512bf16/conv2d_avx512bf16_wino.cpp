// SPDX-License-Identifier: Apache-2.0
// Purpose: bf16 Winograd F(2x2, 3x3) and F(2x2, 2x2) on AVX-512 BF16: avx2/conv2d_winograd.inl over
// the zmm traits with WinoOps specialized to bf16 (the input transform in fp32, its results stored
// as bf16 by VCVTNEPS2BF16, one VDPBF16PS per tile, vector and input-channel pair in the GEMM, 14
// tiles x 32 channels in 28 zmm accumulators). Compiled alone with -mavx512f -mavx512bw -mavx512vl
// -mavx512bf16 (CMakeLists.txt); dispatch only calls it when the CPU has them.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized" // GCC 12's avx512 headers, see avx512/
#endif

#include "stages/infer/kernels/kernels.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <immintrin.h>
#include <new>
#include <utility>

namespace atrous::infer::kernels
{
namespace
{

#include "stages/infer/kernels/avx2/conv2d_winograd.inl"
#include "stages/infer/kernels/avx512/zmm_traits.inl"

/// Zmm with the bf16 GEMM's register tile: 14 tiles x 2 vectors = 28 accumulators, 2 weight
/// vectors and the broadcast pair in the 32 zmm.
struct ZmmBf16 : Zmm
{
    static constexpr int mr = 14;
};

/// The bf16 GEMM operands: transformed inputs as bf16, weights as bf16 pairs (pack_bf16_pairs'
/// convention: the even channel in the low half, VDPBF16PS' element 2j).
template <> struct WinoOps<ZmmBf16>
{
    using Elem = std::uint16_t;
    using Reg = __m512;
    static constexpr int k_step = 2;
    static Reg a_bcast(const Elem* p)
    {
        std::int32_t pair;
        std::memcpy(&pair, p, 4);
        return _mm512_castsi512_ps(_mm512_set1_epi32(pair));
    }
    static Reg madd(Reg acc, Reg a, Reg w)
    {
        return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(w));
    }
    static void store(Elem* p, Reg v)
    {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                            reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
    }
    static void store_partial(Elem* p, int count, Reg v)
    {
        _mm256_mask_storeu_epi16(p, Zmm::mask(count),
                                 reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
    }
};

} // namespace

PackedWeights conv2d_avx512bf16_wino_pack(const Conv2dShape& s, const float* hwio)
{
    return bf16_winograd_applies(s) ? pack_winograd_bf16_pairs(s, hwio, ZmmBf16::block)
                                    : conv2d_avx512bf16_14x32_pack(s, hwio);
}

void conv2d_avx512bf16_wino(const Conv2dShape& s, const float* in, const float* packed_w,
                            const float* bias, const Activation& act, float* out)
{
    if (bf16_winograd_applies(s) && s.kh == 3)
        winograd_conv<ZmmBf16, Wino23<ZmmBf16>>(s, in, packed_w, bias, act, out);
    else if (bf16_winograd_applies(s))
        winograd_conv<ZmmBf16, Wino22<ZmmBf16>>(s, in, packed_w, bias, act, out);
    else
        conv2d_avx512bf16_14x32(s, in, packed_w, bias, act, out);
}

} // namespace atrous::infer::kernels
