// SPDX-License-Identifier: Apache-2.0
// Purpose: the run loop: stage construction, preparation, the plan printout, the TBB pipeline.
#include "runner.hpp"

#include "pipeline/blend_exchange.hpp"
#include "pipeline/fingerprint.hpp"
#include "pipeline/interrupt_watch.hpp"
#include "pipeline/output_guard.hpp"
#include "pipeline/run_report.hpp"
#include "pipeline/sha256.hpp"
#include "pipeline/stream_runner.hpp"
#include "pipeline/tile_dispenser.hpp"
#include "pipeline/tile_plan.hpp"
#include "pipeline/version.hpp"
#include "stages/error.hpp"
#include "stages/infer/infer_stage.hpp"
#include "stages/read/gdal_cache_plan.hpp"
#include "stages/read/make_reader.hpp"
#include "stages/stitch/blend_stitcher.hpp"
#include "stages/stitch/make_stitcher.hpp"
#include "stages/write/make_writer.hpp"

#include <fmt/format.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>

namespace atrous
{
namespace
{

namespace fs = std::filesystem;

/// GFLOP of one forward pass per window size; a grid has few distinct sizes.
class FlopTable
{
public:
    FlopTable(const infer::Model& model, const TilePlan& plan) : m_model(model)
    {
        for (TileId id = 0; id < plan.count(); ++id)
            m_total += of(plan.task(id).window);
    }
    double of(const Window& w) const
    {
        const auto key = std::make_pair(w.height, w.width);
        if (auto it = m_cache.find(key); it != m_cache.end())
            return it->second;
        const double g = m_model.flops({1, w.height, w.width, m_model.facts().in_channels}) / 1e9;
        m_cache.emplace(key, g);
        return g;
    }
    double total() const { return m_total; }

private:
    const infer::Model& m_model;
    mutable std::map<std::pair<int, int>, double> m_cache; // filled before the pipeline runs
    double m_total = 0;
};

/// First quoted name of a WKT (the CRS name), for the summary.
std::string crs_name(const std::string& wkt)
{
    const auto a = wkt.find('"');
    const auto b = a == std::string::npos ? a : wkt.find('"', a + 1);
    return b == std::string::npos ? std::string("with a CRS") : wkt.substr(a + 1, b - a - 1);
}

/// GFLOP as a short human number ("21.2 GFLOP", "830 MFLOP").
std::string flop_text(double gflop)
{
    if (gflop >= 1000)
        return fmt::format("{:.1f} TFLOP", gflop / 1000);
    if (gflop >= 1)
        return fmt::format("{:.2f} GFLOP", gflop);
    return fmt::format("{:.2f} MFLOP", gflop * 1000);
}

std::string probabilities_text(ProbabilityFormat f)
{
    switch (f)
    {
    case ProbabilityFormat::none:
        return "";
    case ProbabilityFormat::uint8:
        return " + probabilities uint8";
    case ProbabilityFormat::float32:
        return " + probabilities float32";
    }
    return "";
}

/// Tiles to run for the cores still to write: crop: those cores' tiles; blend: every tile whose
/// grown core (core + halo) touches one of them (their predictions are not stored).
std::vector<TileId> tiles_needed(const TilePlan& plan, const std::vector<std::uint8_t>& done,
                                 StitchMode mode)
{
    std::vector<TileId> out;
    for (TileId id = 0; id < plan.count(); ++id)
    {
        bool needed = done[static_cast<std::size_t>(id)] == 0;
        if (!needed && mode == StitchMode::blend && plan.spatial())
        {
            const TileTask t = plan.task(id);
            const auto reach = [&](int start, int size, int image)
            {
                const int lo = std::max(0, start - plan.halo_px());
                const int hi = std::min(image, start + size + plan.halo_px());
                return std::make_pair(lo / plan.tile_size(), (hi - 1) / plan.tile_size());
            };
            const auto [c0, c1] = reach(t.core.x, t.core.width, plan.image_width());
            const auto [r0, r1] = reach(t.core.y, t.core.height, plan.image_height());
            for (int r = r0; r <= r1 && !needed; ++r)
            {
                for (int c = c0; c <= c1 && !needed; ++c)
                    needed = done[static_cast<std::size_t>(r) * plan.columns() + c] == 0;
            }
        }
        if (needed)
            out.push_back(id);
    }
    return out;
}

/// Every rank's stats on rank 0 (by rank); the other ranks get their own only.
std::vector<RankStats> gather_stats(const RankStats& mine, Communicator& comm)
{
    constexpr int n = 11;
    const std::array<double, n> v{static_cast<double>(mine.tiles),
                                  static_cast<double>(mine.empty_tiles),
                                  static_cast<double>(mine.cores_written),
                                  mine.seconds,
                                  mine.busy_seconds,
                                  mine.wait_seconds,
                                  mine.progress_seconds,
                                  static_cast<double>(mine.shares_sent),
                                  mine.peak_rss_mb,
                                  mine.infer_seconds,
                                  mine.write_seconds};
    const int ranks = comm.size();
    if (ranks <= 1)
        return {mine};
    const std::vector<double> all = comm.gather(v, 0);
    if (comm.rank() != 0)
        return {mine};
    std::vector<RankStats> out;
    for (int r = 0; r < ranks; ++r)
    {
        const double* x = all.data() + static_cast<std::size_t>(r) * n;
        RankStats s;
        s.rank = r;
        s.tiles = std::llround(x[0]);
        s.empty_tiles = std::llround(x[1]);
        s.cores_written = std::llround(x[2]);
        s.seconds = x[3];
        s.busy_seconds = x[4];
        s.wait_seconds = x[5];
        s.progress_seconds = x[6];
        s.shares_sent = std::llround(x[7]);
        s.peak_rss_mb = x[8];
        s.infer_seconds = x[9];
        s.write_seconds = x[10];
        out.push_back(s);
    }
    return out;
}

} // namespace

Runner::Runner(RunConfig config, spdlog::logger& log, LogFormat format)
    : m_config(std::move(config)), m_log(log), m_format(format),
      m_writer_factory([](const WriteOptions& o, const OutputLayout& l)
                       { return make_hdf5_writer(o, l); })
{
}

RunReport Runner::run()
{
    const RunConfig& cfg = m_config;
    const int threads = std::max(1, cfg.runtime.threads);
    tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(threads));
    // From here on a signal only asks the run to stop taking tiles.
    const InterruptWatch watch;
    RunContext ctx;
    ctx.log = &m_log;
    ctx.threads = threads;
    ctx.rank = m_rank;
    ctx.ranks = m_ranks;
    ctx.comm = m_comm;

    // Prepare everything before any tile: each check fails here, before the output exists.
    std::unique_ptr<Reader> reader = make_gdal_reader(cfg.input);
    reader->prepare(ctx);
    const RasterInfo info = reader->info();
    if (m_rank == 0)
    {
        // Nothing this run creates may be a file it reads, under any spelling; the names of the
        // report and the quick look must be free for atrous (the writer checks its own).
        refuse_overwriting(files_created_by_run(cfg.output.path, m_preview),
                           files_read_by_run(info.path, cfg.model.placeholder_seed
                                                            ? fs::path()
                                                            : cfg.model.weights),
                           "output.path");
        check_side_files(cfg.output.path, m_preview);
    }

    InferStage inferer(cfg.model);
    inferer.prepare(ctx);
    inferer.check_input(info);
    check_stream_executor(cfg, inferer.model(), m_ranks);
    const infer::Model& model = inferer.model();
    const infer::ModelFacts& facts = model.facts();

    const TilePlan plan(
        {info.width, info.height, cfg.tile.size, cfg.tile.halo_px, cfg.where("tile.size")}, facts);

    StitchGeometry geometry;
    geometry.image_width = info.width;
    geometry.image_height = info.height;
    geometry.tile_size = plan.tile_size();
    geometry.halo_px = plan.halo_px();
    geometry.columns = plan.columns();
    geometry.rows = plan.rows();
    geometry.channels = facts.out_channels;
    geometry.spatial = facts.spatial;
    std::unique_ptr<Stitcher> stitcher = make_stitcher(cfg.stitch, geometry);
    stitcher->prepare(ctx);

    RunConfig effective = cfg;
    effective.tile.size = plan.tile_size();
    WriteOptions write_options = cfg.output;
    write_options.sync_interval_s = cfg.runtime.sync_interval;
    write_options.model_sha256 =
        cfg.model.placeholder_seed ? std::string("placeholder") : sha256_file(cfg.model.weights);
    write_options.config_yaml = effective.normalized_yaml();
    write_options.fingerprint = make_fingerprint(effective, info, write_options.model_sha256, plan);
    OutputLayout layout;
    layout.width = info.width;
    layout.height = info.height;
    layout.channels = facts.out_channels;
    layout.tile_size = plan.tile_size();
    layout.columns = plan.columns();
    layout.rows = plan.rows();
    layout.spatial = facts.spatial;
    layout.geotransform = info.geotransform;
    layout.crs_wkt = info.crs_wkt;
    const fs::path partial = fs::path(cfg.output.path.string() + ".partial");

    const FlopTable flops(model, plan);
    const Window largest = plan.largest_window();
    const double tile_gflop = flops.of(largest);
    const int tokens = std::clamp(threads, 2, 8);
    // Tiles are read row by row from one GDAL handle (the serial read below): a cache holding
    // one row of windows' blocks decodes each block once.
    const GdalCachePlan cache = plan_gdal_cache(info, largest.height, cfg.input.gdal_cache_mb);
    apply_gdal_cache(cache);

    // What the run will do, before doing it.
    m_log.info("atrous {}: {} -> {}", version(), info.path, cfg.output.path.string());
    m_log.info("  input   {} x {} px, {} band{} ({}), nodata {}, {}", info.width, info.height,
               info.bands, info.bands == 1 ? "" : "s", info.driver,
               info.nodata ? fmt::format("{}", *info.nodata) : std::string("none"),
               info.geotransform
                   ? "georeferenced, " +
                         (info.crs_wkt.empty() ? std::string("no CRS") : crs_name(info.crs_wkt))
                   : std::string("not georeferenced"));
    m_log.info("  blocks  {}; GDAL cache {} MB ({}){}", block_layout_text(info.layout),
               cache.bytes / (1024 * 1024), cache.why,
               info.mask.empty() ? std::string() : ", validity mask: " + info.mask);
    m_log.info("  model   {} ({}): {} -> {} channel{} ({}), {:.2f} M parameters, stride {}, "
               "receptive radius {} px{}",
               model.name(),
               cfg.model.placeholder_seed ? "PLACEHOLDER random weights"
                                          : cfg.model.weights.filename().string(),
               facts.in_channels, facts.out_channels, facts.out_channels == 1 ? "" : "s",
               facts.output_activation, static_cast<double>(model.params()) / 1e6,
               facts.total_stride, facts.receptive_radius_px,
               facts.spatial ? "" : ", classifier: one class per tile");
    m_log.info("  tiles   {} x {} = {} tiles of {} px, halo {} px ({}), windows up to {} x {} px, "
               "stitch {}",
               plan.columns(), plan.rows(), plan.count(), plan.tile_size(), plan.halo_px(),
               cfg.tile.halo_px ? "tile.halo" : "exact", largest.width, largest.height,
               cfg.stitch.mode == StitchMode::crop ? "crop" : "blend");
    m_log.info("  compute {} per full tile, {} in total", flop_text(tile_gflop),
               flop_text(flops.total()));
    m_log.info("  threads {} ({}), {} tiles in flight", threads, cfg.runtime.threads_from, tokens);
    m_log.info("  output  {}{}, {}",
               facts.spatial
                   ? fmt::format("mask uint8 {} x {}", info.width, info.height)
                   : fmt::format("class uint8 {} x {} (one per tile)", plan.columns(), plan.rows()),
               probabilities_text(cfg.output.probabilities),
               cfg.output.compression == "none"
                   ? std::string("uncompressed")
                   : fmt::format("deflate {}", cfg.output.compression_level));
    if (facts.spatial && plan.halo_px() < facts.halo_px)
        m_log.warn("tile.halo {} px is below the model's exact halo {} px: tiles see less "
                   "context at their edges and seams may show ({})",
                   plan.halo_px(), facts.halo_px,
                   cfg.stitch.mode == StitchMode::crop ? "blend softens them" : "blended");

    std::unique_ptr<Writer> writer = m_writer_factory(write_options, layout);
    writer->prepare(ctx);

    // Resume: the tiles already in the output are not computed again.
    std::vector<std::uint8_t> done(static_cast<std::size_t>(plan.count()), 0);
    long long done_before = 0;
    for (const TileId id : writer->done_tiles())
    {
        if (id >= 0 && id < plan.count() && done[static_cast<std::size_t>(id)] == 0)
        {
            done[static_cast<std::size_t>(id)] = 1;
            ++done_before;
        }
    }
    RunReport report;
    report.tiles = plan.count();
    report.output = cfg.output.path;
    report.resumed_tiles = done_before;
    report.ranks = m_ranks;
    if (done_before == plan.count())
    {
        writer->finish(ctx); // publishes a complete partial file; nothing when already published
        stitcher->finish(ctx);
        reader->finish(ctx);
        report.nothing_to_do = true;
        m_log.info("nothing to do: {} holds every tile of this run", cfg.output.path.string());
        return report;
    }
    if (done_before > 0)
        m_log.info("  resume  {} of {} tiles already in {}; computing the other {}", done_before,
                   plan.count(), partial.string(), plan.count() - done_before);
    else if (fs::exists(cfg.output.path))
        m_log.info("  note    {} exists; it is replaced only when this run completes",
                   cfg.output.path.string());
    if (cfg.tile.executor == TileOptions::Executor::stream)
        return run_stream({cfg, ctx, m_log, m_format, watch, *reader, model, plan, *stitcher,
                           *writer, done, done_before},
                          report);
    const std::vector<TileId> needed = tiles_needed(plan, done, cfg.stitch.mode);
    // Blend on resume: the cores already in the output get no shares (never rewritten).
    auto* const blend = dynamic_cast<BlendStitcher*>(stitcher.get());
    if (blend != nullptr)
        blend->skip_final(done);
    double needed_gflop = 0;
    for (const TileId id : needed)
        needed_gflop += flops.of(plan.task(id).window);

    Progress progress(m_format, plan.count() - done_before, needed_gflop, stdout);
    std::atomic<long long> empty_tiles{0};
    // Summed over the parallel filter's calls (and, blend under MPI, the receiver thread's).
    std::atomic<long long> read_ns{0}, infer_ns{0}, write_ns{0};
    double stitch_s = 0;       // serial filter: a plain sum
    double inferred_gflop = 0; // the same filter: work of the tiles actually inferred
    using Clock = std::chrono::steady_clock;
    const auto ns_since = [](Clock::time_point t)
    { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count(); };
    std::atomic<long long> tiles_written{0};
    TileDispenser dispenser(needed, watch, *m_comm);
    const auto start = std::chrono::steady_clock::now();

    Reader* const rd = reader.get();
    const InferStage* const inf = &inferer;
    Stitcher* const st = stitcher.get();
    Writer* const wr = writer.get();
    // Writes completed blocks; thread-safe (the blend exchange's receiver thread calls it too).
    const auto deliver = [&](std::vector<OutputBlock>&& blocks)
    {
        for (const OutputBlock& block : blocks)
        {
            // Crop on resume never recomputes a done tile; blend makes no share of a done core.
            if (std::all_of(block.tiles.begin(), block.tiles.end(),
                            [&](TileId t) { return done[static_cast<std::size_t>(t)] != 0; }))
                continue;
            const auto t1 = Clock::now();
            wr->write(block);
            write_ns.fetch_add(ns_since(t1));
            tiles_written.fetch_add(static_cast<long long>(block.tiles.size()));
            progress.advance(static_cast<long long>(block.tiles.size()), 0.0);
        }
    };
    std::optional<BlendExchange> exchange;
    if (blend != nullptr && m_ranks > 1)
        exchange.emplace(*blend, deliver, *m_comm);
    // read: serial in tile order (one GDAL handle, so its cached blocks serve the neighbouring
    // windows); infer: parallel; stitch + write: serial.
    tbb::parallel_pipeline(
        static_cast<std::size_t>(tokens),
        tbb::make_filter<void, RasterTile>(tbb::filter_mode::serial_in_order,
                                           [&](tbb::flow_control& fc) -> RasterTile
                                           {
                                               const std::optional<TileId> id = dispenser.next();
                                               if (!id)
                                               {
                                                   fc.stop();
                                                   return {};
                                               }
                                               const auto t0 = Clock::now();
                                               RasterTile tile = rd->read(plan.task(*id));
                                               if (tile.empty)
                                                   empty_tiles.fetch_add(1,
                                                                         std::memory_order_relaxed);
                                               read_ns.fetch_add(ns_since(t0));
                                               return tile;
                                           }) &
            tbb::make_filter<RasterTile, Prediction>(tbb::filter_mode::parallel,
                                                     [&](const RasterTile& tile) -> Prediction
                                                     {
                                                         const auto t0 = Clock::now();
                                                         Prediction p = inf->infer(tile);
                                                         infer_ns.fetch_add(ns_since(t0));
                                                         return p;
                                                     }) &
            tbb::make_filter<Prediction, void>(tbb::filter_mode::serial_out_of_order,
                                               [&](Prediction p)
                                               {
                                                   // Empty tiles were planned but not inferred.
                                                   const double planned = flops.of(p.task.window);
                                                   const double g = p.empty ? 0.0 : planned;
                                                   inferred_gflop += g;
                                                   const auto t0 = Clock::now();
                                                   std::vector<OutputBlock> blocks =
                                                       st->add(std::move(p));
                                                   stitch_s +=
                                                       static_cast<double>(ns_since(t0)) * 1e-9;
                                                   deliver(std::move(blocks));
                                                   if (exchange)
                                                       exchange->send(blend->take_outgoing());
                                                   progress.advance(0, g, planned - g);
                                               }));
    // Blend under MPI: every share sent anywhere is accepted (and its core written) before the
    // writer closes.
    if (exchange)
        exchange->finish();
    progress.finish();
    dispenser.close();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    stitcher->finish(ctx);
    const auto finish_start = Clock::now();
    writer->finish(ctx); // collective under MPI
    write_ns.fetch_add(ns_since(finish_start));
    reader->finish(ctx);

    const bool interrupted = m_comm->any(dispenser.interrupted());
    const long long total = done_before + m_comm->sum(tiles_written.load());
    if (total != plan.count() || fs::exists(partial))
    {
        if (interrupted && total != plan.count())
            throw InterruptedError(
                "run", fmt::format("interrupted by {}: {} of {} tiles done, progress saved in {}; "
                                   "run the same command again to resume",
                                   InterruptWatch::name(watch.signal()), total, plan.count(),
                                   partial.string()));
        throw OutputError(std::string(writer->name()),
                          fmt::format("{}: incomplete, {} of {} tiles written", partial.string(),
                                      total, plan.count()));
    }
    report.empty_tiles = m_comm->sum(empty_tiles.load());
    report.rank_tiles = dispenser.taken();
    report.seconds = seconds;
    // Empty tiles cost nothing; summed over ranks in kFLOP (the communicator sums integers).
    report.gflop = static_cast<double>(m_comm->sum(std::llround(inferred_gflop * 1e6))) * 1e-6;
    report.read_seconds = static_cast<double>(read_ns.load()) * 1e-9;
    report.infer_seconds = static_cast<double>(infer_ns.load()) * 1e-9;
    report.stitch_seconds = stitch_s;
    report.write_seconds = static_cast<double>(write_ns.load()) * 1e-9;
    report.progress_seconds = writer->progress_seconds();
    report.pixels = static_cast<long long>(info.width) * info.height;
    report.threads = threads;
    report.input = cfg.input.path;
    RankStats mine;
    mine.rank = m_rank;
    mine.tiles = dispenser.taken();
    mine.empty_tiles = empty_tiles.load();
    mine.cores_written = tiles_written.load();
    mine.seconds = seconds;
    mine.busy_seconds =
        report.read_seconds + report.infer_seconds + stitch_s + report.write_seconds;
    mine.infer_seconds = report.infer_seconds;
    mine.write_seconds = report.write_seconds;
    mine.wait_seconds = dispenser.wait_seconds();
    mine.progress_seconds = report.progress_seconds;
    mine.shares_sent = exchange ? exchange->shares_sent() : 0;
    mine.peak_rss_mb = static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0);
    report.per_rank = gather_stats(mine, *m_comm);
    return report;
}

} // namespace atrous
