// SPDX-License-Identifier: Apache-2.0
// Purpose: Google Benchmark of every conv2d, depthwise_conv2d and separable_conv2d entry of
// kernels.def on the seed U-Nets' layer kinds (3x3, 3x3 dilated, the 2x2 up-convolution, the
// separable U-Net's 1x1 pointwise and depthwise 3x3 layers, stride 2, few channels), 1 and 2
// threads; then a table per layer: GFLOP, median ms, GFLOP/s, % of the FMA peak measured in the
// same run (the variant's ISA; AVX2 for the generic ones). Variants the CPU lacks are skipped.

#include "bench/fma_peak.hpp"
#include "stages/infer/kernels/dispatch.hpp"

#include <benchmark/benchmark.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace
{

using namespace atrous::infer::kernels;

enum class Op
{
    conv2d,
    depthwise,
    separable
};

struct BenchShape
{
    const char* label;
    Op op;
    int hw, in_c, out_c, k, dilation, stride;
};

const BenchShape k_shapes[] = {
    // Seed U-Net (3x3 and 2x2 stride 1 run Winograd in the _wino variants).
    {"3x3_c64_64px", Op::conv2d, 64, 64, 64, 3, 1, 1},
    {"3x3_c256_32px", Op::conv2d, 32, 256, 256, 3, 1, 1},
    {"3x3d2_c512_16px", Op::conv2d, 16, 512, 512, 3, 2, 1},
    {"2x2up_c256to128_32px", Op::conv2d, 32, 256, 128, 2, 1, 1},
    // Direct (GEMM) convolutions: the separable U-Net's pointwise layers, stride 2, few channels.
    {"1x1_c64_64px", Op::conv2d, 64, 64, 64, 1, 1, 1},
    {"1x1_c64_256px", Op::conv2d, 256, 64, 64, 1, 1, 1},
    {"1x1_c256_64px", Op::conv2d, 64, 256, 256, 1, 1, 1},
    {"1x1_c512_32px", Op::conv2d, 32, 512, 512, 1, 1, 1},
    {"1x1_c1024_16px", Op::conv2d, 16, 1024, 1024, 1, 1, 1},
    {"3x3s2_c128_64px", Op::conv2d, 64, 128, 128, 3, 1, 2},
    {"3x3_c8to64_128px", Op::conv2d, 128, 8, 64, 3, 1, 1},
    {"3x3_c1to64_256px", Op::conv2d, 256, 1, 64, 3, 1, 1},
    {"3x3_c64to2_256px", Op::conv2d, 256, 64, 2, 3, 1, 1},
    // Depthwise 3x3 and the fused separable 3x3 of the separable U-Net.
    {"dw3x3_c64_256px", Op::depthwise, 256, 64, 64, 3, 1, 1},
    {"dw3x3_c256_64px", Op::depthwise, 64, 256, 256, 3, 1, 1},
    {"dw3x3d2_c1024_16px", Op::depthwise, 16, 1024, 1024, 3, 2, 1},
    {"sep3x3_c64_256px", Op::separable, 256, 64, 64, 3, 1, 1},
    {"sep3x3_c256_64px", Op::separable, 64, 256, 256, 3, 1, 1},
    {"sep3x3d2_c512_32px", Op::separable, 32, 512, 512, 3, 2, 1},
    {"sep3x3d2_c1024_16px", Op::separable, 16, 1024, 1024, 3, 2, 1},
};

Conv2dShape same_shape(const BenchShape& b)
{
    Conv2dShape s;
    s.in_h = s.in_w = b.hw;
    s.out_h = s.out_w = (b.hw + b.stride - 1) / b.stride;
    s.in_c = b.in_c;
    s.out_c = b.out_c;
    s.kh = s.kw = b.k;
    s.stride_h = s.stride_w = b.stride;
    s.dilation_h = s.dilation_w = b.dilation;
    const int k_eff = (b.k - 1) * b.dilation + 1;
    s.pad_top = s.pad_left = std::max((s.out_h - 1) * b.stride + k_eff - b.hw, 0) / 2;
    return s;
}

double flops(const BenchShape& b, const Conv2dShape& s)
{
    const double pixels = static_cast<double>(s.out_h) * s.out_w;
    switch (b.op)
    {
    case Op::conv2d:
        return 2.0 * pixels * s.out_c * s.kh * s.kw * s.in_c;
    case Op::depthwise:
        return 2.0 * pixels * s.out_c * s.kh * s.kw;
    case Op::separable:
        return 2.0 * pixels * s.in_c * (s.kh * s.kw + s.out_c);
    }
    return 0.0;
}

/// Measured FMA peak of `isa` on `threads` threads (generic kernels: the AVX2 peak).
double peak(int threads, Isa isa)
{
    if (isa == Isa::generic)
        isa = Isa::avx2_fma;
    static std::map<std::pair<int, Isa>, double> cache; // benchmark main is single-threaded
    auto it = cache.find({threads, isa});
    if (it == cache.end())
        it = cache.emplace(std::pair{threads, isa}, atrous::bench::fma_peak_gflops(threads, isa))
                 .first;
    return it->second;
}

/// Every timed iteration's wall seconds per (benchmark name, threads): the table's medians.
std::map<std::pair<std::string, int>, std::vector<double>>& samples()
{
    static std::map<std::pair<std::string, int>, std::vector<double>> all;
    return all;
}

/// The same for the calling thread's CPU seconds (1 thread: the kernel's own time, whatever
/// other processes take of the core).
std::map<std::pair<std::string, int>, std::vector<double>>& cpu_samples()
{
    static std::map<std::pair<std::string, int>, std::vector<double>> all;
    return all;
}

/// Single-thread peak per CPU second of `isa` (generic: AVX2).
double cpu_peak(Isa isa)
{
    if (isa == Isa::generic)
        isa = Isa::avx2_fma;
    static std::map<Isa, double> cache;
    auto it = cache.find(isa);
    if (it == cache.end())
        it = cache.emplace(isa, atrous::bench::fma_peak_cpu_gflops(isa)).first;
    return it->second;
}

struct Row
{
    std::string name;
    BenchShape shape;
    Isa isa;
};

std::vector<Row>& rows()
{
    static std::vector<Row> all;
    return all;
}

/// Times `call` (one kernel run) in an arena of state.range(0) threads.
void time_it(benchmark::State& state, const std::string& name, const BenchShape& b, Isa isa,
             const std::function<void()>& call)
{
    const int threads = static_cast<int>(state.range(0));
    const Conv2dShape s = same_shape(b);
    oneapi::tbb::task_arena arena(threads);
    arena.execute(call); // warm-up: scratch, page faults
    double seconds = 0.0;
    auto& mine = samples()[{name, threads}];
    auto& mine_cpu = cpu_samples()[{name, threads}];
    for (auto _ : state)
    {
        const double cpu_start = atrous::bench::thread_cpu_seconds();
        const auto start = std::chrono::steady_clock::now();
        arena.execute(call);
        const double t =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        seconds += t;
        mine.push_back(t);
        mine_cpu.push_back(atrous::bench::thread_cpu_seconds() - cpu_start);
    }
    const double gflops = flops(b, s) * static_cast<double>(state.iterations()) / seconds / 1e9;
    state.counters["GFLOP/s"] = gflops;
    if (peak(threads, isa) > 0)
        state.counters["%peak"] = 100.0 * gflops / peak(threads, isa);
}

std::vector<float> random_vector(std::size_t n, std::mt19937& rng)
{
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v)
        x = dist(rng);
    return v;
}

void run_conv2d(benchmark::State& state, const std::string& name, Conv2dVariant v, BenchShape b)
{
    if (!cpu_supports(v.isa))
    {
        state.SkipWithError("CPU lacks the ISA");
        return;
    }
    const Conv2dShape s = same_shape(b);
    std::mt19937 rng(1);
    const auto in = random_vector(s.in_size(), rng);
    const auto w = random_vector(static_cast<std::size_t>(s.kh) * s.kw * s.in_c * s.out_c, rng);
    const auto bias = random_vector(s.out_c, rng);
    std::vector<float> out(s.out_size());
    const PackedWeights packed = v.pack(s, w.data());
    const Activation relu{ActivationKind::relu};
    time_it(state, name, b, v.isa,
            [&] { v.run(s, in.data(), packed.data(), bias.data(), relu, out.data()); });
    benchmark::DoNotOptimize(out.data());
}

void run_depthwise(benchmark::State& state, const std::string& name, DepthwiseVariant v,
                   BenchShape b)
{
    if (!cpu_supports(v.isa))
    {
        state.SkipWithError("CPU lacks the ISA");
        return;
    }
    const Conv2dShape s = same_shape(b);
    std::mt19937 rng(2);
    const auto in = random_vector(s.in_size(), rng);
    const auto w = random_vector(static_cast<std::size_t>(s.kh) * s.kw * s.out_c, rng);
    const auto bias = random_vector(s.out_c, rng);
    std::vector<float> out(s.out_size());
    const Activation relu{ActivationKind::relu};
    time_it(state, name, b, v.isa,
            [&] { v.run(s, in.data(), w.data(), bias.data(), relu, out.data()); });
    benchmark::DoNotOptimize(out.data());
}

void run_separable(benchmark::State& state, const std::string& name, SeparableVariant v,
                   BenchShape b)
{
    if (!cpu_supports(v.isa))
    {
        state.SkipWithError("CPU lacks the ISA");
        return;
    }
    const Conv2dShape s = same_shape(b);
    std::mt19937 rng(3);
    const auto in = random_vector(s.in_size(), rng);
    const auto dw = random_vector(static_cast<std::size_t>(s.kh) * s.kw * s.in_c, rng);
    const auto pw = random_vector(static_cast<std::size_t>(s.in_c) * s.out_c, rng);
    const auto bias = random_vector(s.out_c, rng);
    std::vector<float> out(s.out_size());
    const PackedWeights packed = v.pack(s, 1, pw.data());
    const Activation relu{ActivationKind::relu};
    time_it(state, name, b, v.isa,
            [&]
            { v.run(s, 1, in.data(), dw.data(), packed.data(), bias.data(), relu, out.data()); });
    benchmark::DoNotOptimize(out.data());
}

void add(const std::string& name, const BenchShape& b, Isa isa,
         std::function<void(benchmark::State&)> fn)
{
    rows().push_back(Row{name, b, isa});
    benchmark::RegisterBenchmark(name.c_str(), std::move(fn))
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

void print_table()
{
    std::printf("\nFMA peak measured in this run, GFLOP/s: avx2 %.1f (1 thread) %.1f (2 threads), "
                "avx512 %.1f (1 thread) %.1f (2 threads); per CPU second of one thread: avx2 "
                "%.1f, avx512 %.1f. %% peak is against the variant's ISA (avx2 for generic).\n"
                "cpu columns (1 thread): the calling thread's CPU time, so the rate while the "
                "kernel had the core, against the per-CPU-second peak.\n\n",
                peak(1, Isa::avx2_fma), peak(2, Isa::avx2_fma), peak(1, Isa::avx512f),
                peak(2, Isa::avx512f), cpu_peak(Isa::avx2_fma), cpu_peak(Isa::avx512f));
    std::printf("| kernel | layer | threads | GFLOP | median ms | GFLOP/s | %% peak | cpu ms | "
                "GFLOP/cpu-s | %% cpu peak |\n"
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const Row& r : rows())
        for (int threads : {1, 2})
        {
            const auto it = samples().find({r.name, threads});
            if (it == samples().end() || it->second.empty())
                continue;
            const double ms = median(it->second) * 1e3;
            const double g = flops(r.shape, same_shape(r.shape)) / 1e9;
            const double rate = g / (ms / 1e3);
            const double p = peak(threads, r.isa);
            const std::size_t slash = r.name.find('/');
            std::printf("| %s | %s | %d | %.3f | %.3f | %.1f | %.0f |",
                        r.name.substr(0, slash).c_str(), r.name.substr(slash + 1).c_str(), threads,
                        g, ms, rate, p > 0 ? 100.0 * rate / p : 0.0);
            if (threads == 1)
            {
                const double cpu_ms = median(cpu_samples()[{r.name, threads}]) * 1e3;
                const double cpu_rate = g / (cpu_ms / 1e3);
                const double cp = cpu_peak(r.isa);
                std::printf(" %.3f | %.1f | %.0f |\n", cpu_ms, cpu_rate,
                            cp > 0 ? 100.0 * cpu_rate / cp : 0.0);
            }
            else
                std::printf(" | | |\n");
        }
}

} // namespace

int main(int argc, char** argv)
{
    for (const BenchShape& b : k_shapes)
    {
        if (b.op == Op::conv2d)
            for (const Conv2dVariant& v : conv2d_variants())
            {
                const std::string name = "conv2d_" + std::string(v.name) + "/" + b.label;
                add(name, b, v.isa,
                    [name, v, b](benchmark::State& st) { run_conv2d(st, name, v, b); });
            }
        if (b.op == Op::depthwise)
            for (const DepthwiseVariant& v : depthwise_variants())
            {
                const std::string name = "depthwise_" + std::string(v.name) + "/" + b.label;
                add(name, b, v.isa,
                    [name, v, b](benchmark::State& st) { run_depthwise(st, name, v, b); });
            }
        if (b.op == Op::separable)
            for (const SeparableVariant& v : separable_variants())
            {
                const std::string name = "separable_" + std::string(v.name) + "/" + b.label;
                add(name, b, v.isa,
                    [name, v, b](benchmark::State& st) { run_separable(st, name, v, b); });
            }
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    peak(1, Isa::avx2_fma); // probe before the kernels run (a quieter moment than after)
    peak(2, Isa::avx2_fma);
    peak(1, Isa::avx512f);
    peak(2, Isa::avx512f);
    cpu_peak(Isa::avx2_fma);
    cpu_peak(Isa::avx512f);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    print_table();
    return 0;
}
