// SPDX-License-Identifier: Apache-2.0
// Purpose: atrous_bench_stream: one image through four executors in the same run, so their
// ratios survive a shared machine's load: one whole-image Model::forward, the streaming executor
// (engine/stream_executor.hpp), exact tiles (window = core + the model's halo, as
// pipeline/run/tile_plan.hpp places them) and halo-0 tiles. Prints wall time, FLOPs / one
// whole-image pass, planned memory and the largest difference from the whole-image result.

#include "stages/infer/engine/graph.hpp"
#include "stages/infer/engine/model.hpp"
#include "stages/infer/engine/stream_executor.hpp"
#include "stages/infer/import/architecture.hpp"
#include "stages/infer/import/keras_h5.hpp"

#include <CLI/CLI.hpp>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace
{

using namespace atrous::infer;

struct Result
{
    double seconds = 0;
    double flops = 0;
    double mib = 0;
    Tensor output;
};

double mib(std::size_t bytes)
{
    return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

int round_up(int v, int m)
{
    return (v + m - 1) / m * m;
}

/// Tiles of `tile` px whose windows reach `halo` px further (a multiple of the stride, clipped to
/// the image), each run by Model::forward and cropped to its core.
Result tiled(const Model& model, const Tensor& input, int tile, int halo)
{
    const Shape in = input.shape();
    const int s = model.facts().total_stride;
    Result r;
    r.output = Tensor(model.output_shape(in));
    const int oc = r.output.shape().c;
    std::size_t arena = 0;
    for (int y0 = 0; y0 < in.h; y0 += tile)
        for (int x0 = 0; x0 < in.w; x0 += tile)
        {
            const int y1 = std::min(in.h, y0 + tile);
            const int x1 = std::min(in.w, x0 + tile);
            const int wy0 = std::max(0, y0 - halo);
            const int wx0 = std::max(0, x0 - halo);
            const int wy1 = std::min(in.h, round_up(y1, s) + halo);
            const int wx1 = std::min(in.w, round_up(x1, s) + halo);
            Tensor window(Shape{1, wy1 - wy0, wx1 - wx0, in.c});
            for (int y = wy0; y < wy1; ++y)
                std::memcpy(&window.at(0, y - wy0, 0, 0), input.data() + input.index(0, y, wx0, 0),
                            sizeof(float) * (wx1 - wx0) * in.c);
            const Tensor out = model.forward(window);
            r.flops += model.flops(window.shape());
            arena = std::max(arena, model.activation_memory(window.shape()).arena_bytes);
            for (int y = y0; y < y1; ++y)
                std::memcpy(&r.output.at(0, y, x0, 0),
                            out.data() + out.index(0, y - wy0, x0 - wx0, 0),
                            sizeof(float) * (x1 - x0) * oc);
        }
    r.mib = mib(arena);
    return r;
}

float max_abs_diff(const Tensor& a, const Tensor& b)
{
    float worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
    return worst;
}

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <typename Fn> double timed(Fn&& fn)
{
    const auto start = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"Streaming vs whole-image vs tiled forward passes"};
    std::string model_path;
    int filters = 64, size = 1024, threads = 1, band = 16, tile = 256, repeats = 1;
    bool skip_whole = false, buffers = false;
    std::string only;
    app.add_option("--model", model_path, "Keras HDF5 file (default: builtin seed U-Net)");
    app.add_option("--filters", filters, "builtin U-Net level-1 width")->check(CLI::PositiveNumber);
    app.add_option("--size", size, "image height = width (px)")->check(CLI::PositiveNumber);
    app.add_option("--threads", threads, "TBB threads")->check(CLI::PositiveNumber);
    app.add_option("--band", band, "stream band height (output rows per step)")
        ->check(CLI::PositiveNumber);
    app.add_option("--tile", tile, "tile core size for the tiled runs")->check(CLI::PositiveNumber);
    app.add_flag("--skip-whole", skip_whole, "no whole-image pass (differences vs the stream)");
    app.add_flag("--buffers", buffers, "print each row buffer of the stream plan and exit");
    app.add_option("--repeats", repeats, "rounds, each running every executor once (medians)")
        ->check(CLI::PositiveNumber);
    app.add_option("--only", only,
                   "comma list of executors besides halo-0 tiles: stream,loose,exact,whole "
                   "(default: all)");
    CLI11_PARSE(app, argc, argv);

    BuildOptions build;
    build.initialize_missing_weights = model_path.empty();
    UnetArchitecture unet;
    unet.filters = filters;
    const Model model(model_path.empty() ? builtin_model_spec(unet) : load_keras_h5(model_path),
                      build);
    const Shape shape{1, size, size, model.facts().in_channels};
    Tensor input(shape);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(0.0f, 1.0f);
    for (std::size_t i = 0; i < input.size(); ++i)
        input.data()[i] = dist(rng);
    const double whole_flops = model.flops(shape);

    if (buffers)
    {
        for (const bool bit_identical : {true, false})
        {
            const StreamPlan plan(model, shape, band, bit_identical);
            std::printf("%s\n| node | layer | rows x width x channels | granule | MiB |\n"
                        "|---|---|---|---:|---:|\n",
                        plan.summary().c_str());
            for (std::size_t i = 0; i < plan.nodes().size(); ++i)
            {
                const StreamNode& n = plan.nodes()[i];
                if (n.buffer != static_cast<int>(i))
                    continue;
                const Node& g = model.graph().nodes()[i];
                std::printf(
                    "| %zu | %s | %d x %d x %d | %d | %.1f |\n", i,
                    g.layer ? g.layer->name().c_str() : "input", n.capacity_rows, n.shape.w,
                    n.shape.c, n.granule,
                    mib(static_cast<std::size_t>(n.capacity_rows) * n.row_floats * sizeof(float)));
            }
        }
        return 0;
    }
    const auto runs = [&](const char* name)
    {
        return only.empty() ||
               ("," + only + ",").find(std::string(",") + name + ",") != std::string::npos;
    };
    oneapi::tbb::task_arena arena(threads);
    Result halo0, stream, loose_stream, exact, whole;
    StreamStats stats, loose_stats;
    // Wall seconds of every round, per executor: the rounds interleave the executors, so a
    // change in the machine's load hits them alike; the table shows the medians.
    std::vector<double> t_halo0, t_stream, t_loose, t_exact, t_whole;
    const StreamExecutor executor(model, shape, band);
    const StreamExecutor loose(model, shape, band, KernelKind::fast, false);
    arena.execute(
        [&]
        {
            for (int round = 0; round < repeats; ++round)
            {
                t_halo0.push_back(timed([&] { halo0 = tiled(model, input, tile, 0); }));
                if (runs("stream"))
                    t_stream.push_back(timed([&] { stream.output = executor.run(input, &stats); }));
                if (runs("loose"))
                    t_loose.push_back(
                        timed([&] { loose_stream.output = loose.run(input, &loose_stats); }));
                if (runs("exact"))
                    t_exact.push_back(
                        timed([&] { exact = tiled(model, input, tile, model.facts().halo_px); }));
                if (!skip_whole && runs("whole"))
                    t_whole.push_back(timed([&] { whole.output = model.forward(input); }));
            }
        });
    halo0.seconds = median(t_halo0);
    stream.seconds = median(t_stream);
    stream.flops = stats.flops_computed;
    stream.mib = mib(stats.buffer_bytes);
    loose_stream.seconds = median(t_loose);
    loose_stream.flops = loose_stats.flops_computed;
    loose_stream.mib = mib(loose_stats.buffer_bytes);
    exact.seconds = median(t_exact);
    whole.seconds = median(t_whole);
    whole.flops = whole_flops;
    whole.mib = mib(model.activation_memory(shape).arena_bytes);
    const bool have_whole = !t_whole.empty();
    const Tensor& truth = have_whole ? whole.output : stream.output;
    std::printf("model %s  image %dx%d  threads %d  band %d  tile %d  halo %d  steps %d  "
                "rounds %d (medians)\n",
                model.name().c_str(), size, size, threads, band, tile, model.facts().halo_px,
                executor.plan().steps(), repeats);
    std::printf("%s\n", executor.plan().summary().c_str());
    std::printf(
        "| executor | wall s | x halo-0 | FLOPs / whole pass | buffers MiB | max diff vs %s |\n"
        "|---|---:|---:|---:|---:|---:|\n",
        have_whole ? "whole" : "stream");
    const auto row = [&](const char* name, const Result& r, const std::vector<double>& times)
    {
        if (times.empty() || r.output.size() != truth.size())
            return;
        std::printf("| %s | %.2f | %.2f | %.3f | %.1f | %.2g |\n", name, r.seconds,
                    r.seconds / halo0.seconds, r.flops / whole_flops, r.mib,
                    static_cast<double>(max_abs_diff(r.output, truth)));
    };
    row("whole image", whole, t_whole);
    row("stream (bit-identical bands)", stream, t_stream);
    row("stream (fewest rows)", loose_stream, t_loose);
    row("tiles, halo exact", exact, t_exact);
    row("tiles, halo 0", halo0, t_halo0);
    if (repeats > 1)
    {
        const auto list = [](const char* name, const std::vector<double>& times)
        {
            if (times.empty())
                return;
            std::printf("%s s:", name);
            for (double t : times)
                std::printf(" %.2f", t);
            std::printf("\n");
        };
        list("halo-0", t_halo0);
        list("stream", t_stream);
        list("fewest rows", t_loose);
        list("exact tiles", t_exact);
        list("whole", t_whole);
    }
    std::printf("stream == whole image bit for bit: %s\n",
                !have_whole || t_stream.empty()
                    ? "not run"
                    : (std::memcmp(stream.output.data(), whole.output.data(),
                                   stream.output.size() * sizeof(float)) == 0
                           ? "yes"
                           : "no"));
    return 0;
}
