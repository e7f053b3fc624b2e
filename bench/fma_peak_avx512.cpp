// SPDX-License-Identifier: Apache-2.0
// Purpose: the zmm twin of fma_peak.cpp's loop, compiled with -mavx512f (bench/CMakeLists.txt).

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized" // GCC 12 avx512fintrin.h false positive

#include <immintrin.h>

namespace atrous::bench
{

/// Runs `iterations` x 12 zmm FMAs in 12 independent chains; returns a value depending on all.
float fma_loop_avx512(long iterations)
{
    __m512 acc[12];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i)
        acc[i] = _mm512_set1_ps(0.001f * i);
    const __m512 a = _mm512_set1_ps(0.9999f);
    const __m512 b = _mm512_set1_ps(1e-6f);
    for (long it = 0; it < iterations; ++it)
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i)
            acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 sum = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < 12; ++i)
        sum = _mm512_add_ps(sum, acc[i]);
    float out[16];
    _mm512_storeu_ps(out, sum);
    return out[0];
}

} // namespace atrous::bench
