// SPDX-License-Identifier: Apache-2.0
// Purpose: FMA peak probe: 12 independent accumulator chains hide the FMA latency (4 cycles x 2
// ports needs >= 8), so the loop runs at the core's FMA throughput.

#include "fma_peak.hpp"

#include "stages/infer/kernels/dispatch.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <immintrin.h>
#include <thread>
#include <time.h>
#include <vector>

namespace atrous::bench
{
namespace
{

/// Runs `iterations` x 12 ymm FMAs; returns a value depending on all of them.
float fma_loop(long iterations)
{
    __m256 acc[12];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i)
        acc[i] = _mm256_set1_ps(0.001f * i);
    const __m256 a = _mm256_set1_ps(0.9999f);
    const __m256 b = _mm256_set1_ps(1e-6f);
    // Fully unrolled so the chains live in registers (a loop over the array keeps them in
    // memory: __m256 may alias, and the stores serialize the chains).
    for (long it = 0; it < iterations; ++it)
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i)
            acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 sum = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < 12; ++i)
        sum = _mm256_add_ps(sum, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, sum);
    return out[0];
}

} // namespace

float fma_loop_avx512(long iterations); // fma_peak_avx512.cpp

double fma_peak_gflops(int threads, infer::kernels::Isa isa)
{
    using infer::kernels::Isa;
    if (isa == Isa::generic || !infer::kernels::cpu_supports(isa))
        return 0.0;
    const int lanes = isa == Isa::avx512f ? 16 : 8;
    const long iterations = 20'000'000;
    double best = 0.0;
    for (int run = 0; run < 3; ++run)
    {
        std::atomic<float> sink{0.0f};
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back(
                [&] {
                    sink =
                        sink + (lanes == 16 ? fma_loop_avx512(iterations) : fma_loop(iterations));
                });
        for (auto& t : pool)
            t.join();
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        best = std::max(best, threads * iterations * 12.0 * 2.0 * lanes / s / 1e9);
    }
    return best;
}

double thread_cpu_seconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double fma_peak_cpu_gflops(infer::kernels::Isa isa)
{
    using infer::kernels::Isa;
    if (isa == Isa::generic || !infer::kernels::cpu_supports(isa))
        return 0.0;
    const int lanes = isa == Isa::avx512f ? 16 : 8;
    const long iterations = 20'000'000;
    double best = 0.0;
    for (int run = 0; run < 3; ++run)
    {
        const double start = thread_cpu_seconds();
        volatile float sink = lanes == 16 ? fma_loop_avx512(iterations) : fma_loop(iterations);
        (void)sink;
        const double s = thread_cpu_seconds() - start;
        best = std::max(best, iterations * 12.0 * 2.0 * lanes / s / 1e9);
    }
    return best;
}

} // namespace atrous::bench
