// SPDX-License-Identifier: Apache-2.0
// Purpose: Google Benchmark of every conv2d entry of kernels.def on the seed U-Net's layer kinds
// (3x3, 3x3 dilated 2, the 2x2 up-convolution, 1x1), 1 and 2 threads; reports GFLOP/s and the
// share of the measured AVX2 FMA peak. Variants the CPU lacks are skipped.

#include "bench/fma_peak.hpp"
#include "stages/infer/kernels/dispatch.hpp"

#include <benchmark/benchmark.h>
#include <oneapi/tbb/task_arena.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace
{

using namespace atrous::infer::kernels;

struct BenchShape
{
    const char* label;
    int hw, in_c, out_c, k, dilation;
};

const BenchShape k_shapes[] = {
    {"3x3_c64_64px", 64, 64, 64, 3, 1},      {"3x3_c256_32px", 32, 256, 256, 3, 1},
    {"3x3d2_c512_16px", 16, 512, 512, 3, 2}, {"2x2up_c256to128_32px", 32, 256, 128, 2, 1},
    {"1x1_c64_64px", 64, 64, 64, 1, 1},
};

Conv2dShape same_shape(const BenchShape& b)
{
    Conv2dShape s;
    s.in_h = s.in_w = s.out_h = s.out_w = b.hw;
    s.in_c = b.in_c;
    s.out_c = b.out_c;
    s.kh = s.kw = b.k;
    s.dilation_h = s.dilation_w = b.dilation;
    s.pad_top = s.pad_left = (b.k - 1) * b.dilation / 2; // Keras 'same': floor before
    return s;
}

double peak(int threads)
{
    static std::map<int, double> cache; // benchmark main is single-threaded
    auto it = cache.find(threads);
    if (it == cache.end())
        it = cache.emplace(threads, atrous::bench::fma_peak_gflops(threads)).first;
    return it->second;
}

void run(benchmark::State& state, Conv2dVariant v, BenchShape b)
{
    if (!cpu_supports(v.isa))
    {
        state.SkipWithError("CPU lacks the ISA");
        return;
    }
    const int threads = static_cast<int>(state.range(0));
    const Conv2dShape s = same_shape(b);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> in(s.in_size()), w(static_cast<std::size_t>(s.kh) * s.kw * s.in_c * s.out_c),
        bias(s.out_c), out(s.out_size());
    for (float& x : in)
        x = dist(rng);
    for (float& x : w)
        x = dist(rng);
    const PackedWeights packed = v.pack(s, w.data());
    const Activation relu{ActivationKind::relu};
    oneapi::tbb::task_arena arena(threads);
    double seconds = 0.0;
    for (auto _ : state)
    {
        const auto start = std::chrono::steady_clock::now();
        arena.execute([&] { v.run(s, in.data(), packed.data(), bias.data(), relu, out.data()); });
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        benchmark::DoNotOptimize(out.data());
    }
    const double flop = 2.0 * s.out_h * s.out_w * s.out_c * s.kh * s.kw * s.in_c;
    const double gflops = flop * static_cast<double>(state.iterations()) / seconds / 1e9;
    state.counters["GFLOP/s"] = gflops;
    if (peak(threads) > 0)
        state.counters["%peak"] = 100.0 * gflops / peak(threads);
}

} // namespace

int main(int argc, char** argv)
{
    for (const Conv2dVariant& v : conv2d_variants())
        for (const BenchShape& b : k_shapes)
            benchmark::RegisterBenchmark(("conv2d_" + std::string(v.name) + "/" + b.label).c_str(),
                                         [v, b](benchmark::State& st) { run(st, v, b); })
                ->Arg(1)
                ->Arg(2)
                ->ArgName("threads")
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    std::printf("AVX2 FMA peak (measured): %.1f GFLOP/s on 1 thread, %.1f on 2\n", peak(1),
                peak(2));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
