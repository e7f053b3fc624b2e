// SPDX-License-Identifier: Apache-2.0
// Purpose: the run plan: the grid and each stage's view of it, provenance and fingerprint, FLOPs,
// GDAL's cache, and the plan summary.
#include "run_plan.hpp"

#include "pipeline/run/fingerprint.hpp"
#include "pipeline/sha256.hpp"
#include "pipeline/version.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace atrous
{
namespace
{

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

TilePlan plan_tiles(const RunConfig& cfg, const RasterInfo& info, const infer::Model& model)
{
    return TilePlan(
        {info.width, info.height, cfg.tile.size, cfg.tile.halo_px, cfg.where("tile.size")},
        model.facts());
}

} // namespace

FlopTable::FlopTable(const infer::Model& model, const TileGrid& grid) : m_model(model)
{
    for (TileId id = 0; id < grid.count(); ++id)
        m_total += of(grid.task(id).window);
    of(grid.largest_window()); // the summary's "per full tile"
}

double FlopTable::of(const Window& w) const
{
    const auto key = std::make_pair(w.height, w.width);
    if (auto it = m_cache.find(key); it != m_cache.end())
        return it->second;
    const double g = m_model.flops({1, w.height, w.width, m_model.facts().in_channels}) / 1e9;
    m_cache.emplace(key, g);
    return g;
}

RunPlan::RunPlan(const RunConfig& cfg, const RasterInfo& info, const infer::Model& model)
    : m_config(cfg), m_input(info), m_model(model), m_tiles(plan_tiles(cfg, info, model)),
      m_executor(choose_executor(cfg, model, m_tiles)), m_stitch{m_tiles.grid(),
                                                                 model.facts().out_channels},
      m_partial(cfg.output.path.string() + ".partial"), m_flops(model, m_tiles.grid()),
      m_threads(std::max(1, cfg.runtime.threads)), m_tokens(std::clamp(m_threads, 2, 8))
{
    const infer::ModelFacts& facts = model.facts();

    // The configuration as run: tile.size is the planned one (its default filled in), the
    // executor the one chosen.
    RunConfig effective = cfg;
    effective.tile.size = m_tiles.tile_size();
    effective.tile.executor = m_executor.executor;
    m_write = cfg.output;
    m_write.sync_interval_s = cfg.runtime.sync_interval;
    m_write.model_sha256 =
        cfg.model.placeholder_seed ? std::string("placeholder") : sha256_file(cfg.model.weights);
    m_write.config_yaml = effective.normalized_yaml();
    m_write.fingerprint = make_fingerprint(effective, info, m_write.model_sha256, m_tiles);

    m_layout = OutputLayout{m_tiles.grid(), facts.out_channels, info.geotransform, info.crs_wkt};

    // Tiles are read row by row from one GDAL handle (the serial read of the tile executor): a
    // cache holding one row of windows' blocks decodes each block once.
    m_cache = plan_gdal_cache(info, m_tiles.largest_window().height, cfg.input.gdal_cache_mb);
}

void RunPlan::print_summary(spdlog::logger& log) const
{
    const RunConfig& cfg = m_config;
    const RasterInfo& info = m_input;
    const infer::ModelFacts& facts = m_model.facts();
    const TilePlan& plan = m_tiles;
    const Window largest = plan.largest_window();
    log.info("atrous {}: {} -> {}", version(), info.path, cfg.output.path.string());
    log.info("  input   {} x {} px, {} band{} ({}), nodata {}, {}", info.width, info.height,
             info.bands, info.bands == 1 ? "" : "s", info.driver,
             info.nodata ? fmt::format("{}", *info.nodata) : std::string("none"),
             info.geotransform ? "georeferenced, " + (info.crs_wkt.empty() ? std::string("no CRS")
                                                                           : crs_name(info.crs_wkt))
                               : std::string("not georeferenced"));
    log.info("  blocks  {}; GDAL cache {} MB ({}){}", block_layout_text(info.layout),
             m_cache.bytes / (1024 * 1024), m_cache.why,
             info.mask.empty() ? std::string() : ", validity mask: " + info.mask);
    log.info("  model   {} ({}): {} -> {} channel{} ({}), {:.2f} M parameters, stride {}, "
             "receptive radius {} px{}",
             m_model.name(),
             cfg.model.placeholder_seed ? "PLACEHOLDER random weights"
                                        : cfg.model.weights.filename().string(),
             facts.in_channels, facts.out_channels, facts.out_channels == 1 ? "" : "s",
             facts.output_activation, static_cast<double>(m_model.params()) / 1e6,
             facts.total_stride, facts.receptive_radius_px,
             facts.spatial ? "" : ", classifier: one class per tile");
    log.info("  tiles   {} x {} = {} tiles of {} px, halo {} px ({}), windows up to {} x {} px, "
             "stitch {}",
             plan.columns(), plan.rows(), plan.count(), plan.tile_size(), plan.halo_px(),
             cfg.tile.halo_px ? "tile.halo" : "exact", largest.width, largest.height,
             cfg.stitch.mode == StitchMode::crop ? "crop" : "blend");
    const bool stream = m_executor.executor == TileOptions::Executor::stream;
    log.info("  executor {} ({})", executor_name(m_executor.executor), m_executor.why);
    if (stream)
        log.info("  compute {} (one pass of the {} x {} px padded image; exact tiles would "
                 "compute {})",
                 flop_text(m_model.flops(
                               {1, plan.padded_height(), plan.padded_width(), facts.in_channels}) /
                           1e9),
                 plan.padded_width(), plan.padded_height(), flop_text(m_flops.total()));
    else
        log.info("  compute {} per full tile, {} in total", flop_text(m_flops.of(largest)),
                 flop_text(m_flops.total()));
    if (stream)
        log.info("  threads {} ({})", m_threads, cfg.runtime.threads_from);
    else
        log.info("  threads {} ({}), {} tiles in flight", m_threads, cfg.runtime.threads_from,
                 m_tokens);
    log.info("  output  {}{}, {}",
             facts.spatial
                 ? fmt::format("mask uint8 {} x {}", info.width, info.height)
                 : fmt::format("class uint8 {} x {} (one per tile)", plan.columns(), plan.rows()),
             probabilities_text(cfg.output.probabilities),
             cfg.output.compression == "none"
                 ? std::string("uncompressed")
                 : fmt::format("deflate {}", cfg.output.compression_level));
    if (facts.spatial && plan.halo_px() < facts.halo_px)
        log.warn("tile.halo {} px is below the model's exact halo {} px: tiles see less "
                 "context at their edges and seams may show ({})",
                 plan.halo_px(), facts.halo_px,
                 cfg.stitch.mode == StitchMode::crop ? "blend softens them" : "blended");
}

} // namespace atrous
