// SPDX-License-Identifier: Apache-2.0
// Purpose: atrous_bench_unet: times Model::forward on the seed U-Net (built in, deterministic
// placeholder weights, optionally separable or the seed classifier; or a Keras file) for one tile
// size and thread count: median of the timed runs after warm-up, optional per-layer table (GFLOP,
// ms, GFLOP/s, % of the measured FMA peak). bench/compare_torch drives it with
// --model/--input/--output to compare against PyTorch.

#include "bench/fma_peak.hpp"
#include "stages/infer/engine/model.hpp"
#include "stages/infer/import/architecture.hpp"
#include "stages/infer/import/keras_h5.hpp"
#include "stages/infer/kernels/dispatch.hpp"

#include <CLI/CLI.hpp>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace
{

using namespace atrous::infer;

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

void read_raw(const std::string& path, Tensor& t)
{
    std::ifstream f(path, std::ios::binary);
    f.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(t.size() * 4));
    if (!f)
        throw std::runtime_error(path + ": expected " + std::to_string(t.size()) + " float32");
}

/// CPU time of every thread of the process (the time slices other processes take do not count).
double process_cpu_seconds()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"Times Model::forward on the seed U-Net"};
    std::string model_path, input_path, output_path;
    int filters = 64, size = 256, batch = 1, threads = 1, repeats = 5, warmup = 1;
    bool layers = false, reference = false, separable = false, classifier = false;
    app.add_option("--model", model_path, "Keras HDF5 file (default: builtin seed U-Net)");
    app.add_option("--filters", filters, "builtin U-Net level-1 width")->check(CLI::PositiveNumber);
    app.add_option("--size", size, "tile height = width (px)")->check(CLI::PositiveNumber);
    app.add_option("--batch", batch, "images per forward pass")->check(CLI::PositiveNumber);
    app.add_option("--threads", threads, "TBB threads")->check(CLI::PositiveNumber);
    app.add_option("--repeats", repeats, "timed runs (median)")->check(CLI::PositiveNumber);
    app.add_option("--warmup", warmup, "untimed runs first")->check(CLI::NonNegativeNumber);
    app.add_option("--input", input_path, "raw float32 NHWC input (default: seeded random)");
    app.add_option("--output", output_path, "write the raw float32 NHWC output here");
    app.add_flag("--layers", layers, "print the per-layer table");
    app.add_flag("--reference", reference, "run the reference kernels instead of the fast ones");
    app.add_flag("--separable", separable, "builtin U-Net with SeparableConv2D 3x3 convolutions");
    app.add_flag("--classifier", classifier, "builtin seed classifier (28x28x1 in) instead");
    bool copy_concat = false;
    app.add_flag("--copy-concat", copy_concat,
                 "every Concatenate copies its inputs (BuildOptions::concat_in_place off)");
    std::string precision = "fp32", bf16_winograd = "bf16";
    app.add_option("--precision", precision, "fp32 | bf16 (BuildOptions::precision)")
        ->check(CLI::IsMember({"fp32", "bf16"}));
    app.add_option("--bf16-winograd", bf16_winograd,
                   "bf16: the Winograd shapes (3x3, 2x2 stride 1) run bf16 Winograd F(2x2, 3x3) "
                   "where it applies (bf16, the default), the bf16 GEMM (gemm) or stay fp32 "
                   "Winograd (fp32)")
        ->check(CLI::IsMember({"bf16", "gemm", "fp32"}));
    CLI11_PARSE(app, argc, argv);

    BuildOptions build;
    build.initialize_missing_weights = model_path.empty();
    build.concat_in_place = !copy_concat;
    build.precision = precision == "bf16" ? Precision::bf16 : Precision::fp32;
    build.bf16_winograd = bf16_winograd == "fp32"   ? Bf16Winograd::fp32_winograd
                          : bf16_winograd == "gemm" ? Bf16Winograd::bf16_gemm
                                                    : Bf16Winograd::bf16_winograd;
    UnetArchitecture unet;
    unet.filters = filters;
    unet.separable = separable;
    const Architecture arch = classifier ? Architecture{ClassifierArchitecture{}} : unet;
    const Model model(model_path.empty() ? builtin_model_spec(arch) : load_keras_h5(model_path),
                      build);
    Tensor input(Shape{batch, size, size, model.facts().in_channels});
    if (!input_path.empty())
        read_raw(input_path, input);
    else
    {
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> dist(0.0f, 1.0f);
        for (std::size_t i = 0; i < input.size(); ++i)
            input.data()[i] = dist(rng);
    }

    ForwardOptions options;
    options.kernels = reference ? KernelKind::reference : KernelKind::fast;
    std::vector<double> seconds;
    std::vector<double> cpu_seconds; // the process' CPU time per run (every thread)
    std::vector<std::vector<double>> per_layer;
    Tensor output;
    oneapi::tbb::task_arena arena(threads);
    for (int run = 0; run < warmup + repeats; ++run)
    {
        std::vector<double> layer_seconds;
        options.layer_seconds = layers ? &layer_seconds : nullptr;
        const double cpu_start = process_cpu_seconds();
        const auto start = std::chrono::steady_clock::now();
        arena.execute([&] { output = model.forward(input, options); });
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (run >= warmup)
        {
            seconds.push_back(s);
            cpu_seconds.push_back(process_cpu_seconds() - cpu_start);
            per_layer.push_back(layer_seconds);
        }
    }
    const double gflop = model.flops(input.shape()) / 1e9;
    const kernels::Isa isa = reference ? kernels::Isa::generic : kernels::conv2d_fast().isa;
    const kernels::Isa peak_isa = isa == kernels::Isa::generic ? kernels::Isa::avx2_fma : isa;
    const double peak = atrous::bench::fma_peak_gflops(threads, peak_isa);
    const double med = median(seconds);
    std::printf(
        "model %s  input %dx%dx%dx%d  threads %d  precision %s  kernels conv2d %s%s "
        "depthwise %s separable %s\n",
        model.name().c_str(), batch, size, size, input.shape().c, threads, precision.c_str(),
        reference ? "ref" : std::string(kernels::conv2d_fast().name).c_str(),
        precision == "bf16"
            ? (" conv2d_bf16 " + std::string(reference ? "ref" : kernels::conv2d_bf16_fast().name) +
               (bf16_winograd == "fp32" ? " (Winograd shapes fp32)"
                : bf16_winograd == "gemm"
                    ? " (Winograd shapes bf16 GEMM)"
                    : " conv2d_bf16_wino " +
                          std::string(reference ? "ref" : kernels::conv2d_bf16_wino_fast().name)))
                  .c_str()
            : "",
        reference ? "ref" : std::string(kernels::depthwise_fast().name).c_str(),
        reference ? "ref" : std::string(kernels::separable_fast().name).c_str());
    std::printf(
        "gflop %.3f\nmedian_ms %.2f\nmin_ms %.2f\nmedian_cpu_ms %.2f\nruns %d\ngflops %.2f\n"
        "peak_gflops %.1f (%s)\n",
        gflop, med * 1e3, *std::min_element(seconds.begin(), seconds.end()) * 1e3,
        median(cpu_seconds) * 1e3, repeats, gflop / med, peak,
        std::string(kernels::isa_name(peak_isa)).c_str());
    // Activation memory as planned for this tile, and the arena reuse over the runs above.
    const ActivationMemory mem = model.activation_memory(input.shape());
    const WorkspaceStats ws = model.workspace_stats();
    const auto mib = [](std::size_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); };
    std::printf("arena_mib %.2f\narena_lower_bound_mib %.2f\nconcat_inputs_in_place %d of %d\n"
                "copying_arena_mib %.2f\ncopying_lower_bound_mib %.2f\n"
                "arena_allocations %lld in %lld forwards\n",
                mib(mem.arena_bytes), mib(mem.lower_bound_bytes), mem.concat_inputs_in_place,
                mem.concat_inputs_in_place + mem.concat_inputs_copied, mib(mem.copying_arena_bytes),
                mib(mem.copying_lower_bound_bytes), ws.arena_allocations, ws.forwards);
    if (layers)
    {
        const auto rows = model.describe(input.shape());
        std::printf("\n| layer | class | output | GFLOP | ms | GFLOP/s | %% peak |\n"
                    "|---|---|---|---:|---:|---:|---:|\n");
        for (std::size_t i = 0; i < rows.size(); ++i)
        {
            std::vector<double> t;
            for (const auto& run : per_layer)
                t.push_back(run[i]);
            const double ms = median(t) * 1e3;
            if (ms == 0.0)
                continue;
            const double g = rows[i].flops / 1e9;
            const double rate = g > 0 && ms > 0 ? g / (ms / 1e3) : 0.0;
            std::printf("| %s | %s | %dx%dx%d | %.3f | %.2f | %.1f | %.0f |\n",
                        rows[i].name.c_str(), rows[i].class_name.c_str(), rows[i].output.h,
                        rows[i].output.w, rows[i].output.c, g, ms, rate,
                        peak > 0 ? 100.0 * rate / peak : 0.0);
        }
    }
    if (!output_path.empty())
    {
        std::ofstream f(output_path, std::ios::binary);
        f.write(reinterpret_cast<const char*>(output.data()),
                static_cast<std::streamsize>(output.size() * 4));
    }
    return 0;
}
