// SPDX-License-Identifier: Apache-2.0
// Purpose: the plan of one run: what the configuration, the input and the model fix before any
// tile (the tile grid, each stage's view of it, the output's provenance and fingerprint, the
// FLOPs, GDAL's cache), immutable and printable as the plan summary.
#pragma once

#include "pipeline/config/config.hpp"
#include "pipeline/run/executor_choice.hpp"
#include "pipeline/run/tile_plan.hpp"
#include "stages/read/gdal_cache_plan.hpp"
#include "stages/stitch/stitch_options.hpp"
#include "stages/tile.hpp"
#include "stages/write/write_options.hpp"

#include <filesystem>
#include <map>
#include <utility>

namespace spdlog
{
class logger;
}

namespace atrous
{

/// GFLOP of one forward pass per window size; a grid has few distinct sizes, all of them looked
/// up by the constructor (so of() only reads afterwards, from any thread).
class FlopTable
{
public:
    FlopTable(const infer::Model& model, const TileGrid& grid);
    double of(const Window& w) const;
    /// Every tile of the grid.
    double total() const { return m_total; }

private:
    const infer::Model& m_model;
    mutable std::map<std::pair<int, int>, double> m_cache; // filled by the constructor
    double m_total = 0;
};

/// Built once per run, after the reader and the model are prepared and before any stitcher or
/// writer exists; every later part reads it by const reference. The grid is planned here once:
/// the stitchers' geometry and the output layout are that grid plus what each stage adds.
class RunPlan
{
public:
    /// Plans the grid (throws ConfigError naming tile.size, ModelError for a classifier's odd
    /// input), chooses the executor (tile.executor), hashes the model file
    /// (placeholder weights: "placeholder") and fingerprints the run (the chosen executor
    /// included: the two round differently). `config`, `input` and `model` must outlive the plan.
    RunPlan(const RunConfig& config, const RasterInfo& input, const infer::Model& model);

    const RunConfig& config() const { return m_config; }
    const RasterInfo& input() const { return m_input; }
    const infer::Model& model() const { return m_model; }

    /// The tile grid, built once.
    const TilePlan& tiles() const { return m_tiles; }
    const TileGrid& grid() const { return m_tiles.grid(); }
    /// The grid as the stitcher sees it (plus the model's output channels).
    const StitchGeometry& stitch_geometry() const { return m_stitch; }
    /// The writer's options: the configured output section plus provenance and fingerprint.
    const WriteOptions& write_options() const { return m_write; }
    /// The grid as the writer sees it (plus channels and georeferencing).
    const OutputLayout& output_layout() const { return m_layout; }
    /// "<output>.partial": where an unfinished output lies.
    const std::filesystem::path& partial_path() const { return m_partial; }

    /// The executor that runs (tiles or stream) and why; config().tile.executor may say auto.
    const ExecutorChoice& executor() const { return m_executor; }

    const FlopTable& flops() const { return m_flops; }
    /// Read row by row from one GDAL handle, tiles decode each block once with this cache.
    const GdalCachePlan& gdal_cache() const { return m_cache; }
    /// This process' threads (runtime.threads, at least 1) and tiles in flight on them.
    int threads() const { return m_threads; }
    int tiles_in_flight() const { return m_tokens; }

    /// What the run will do, before doing it: the plan summary (input, blocks and cache, model,
    /// tiles, compute, threads, output), and a warning when tile.halo is below the exact halo.
    void print_summary(spdlog::logger& log) const;

private:
    const RunConfig& m_config;
    const RasterInfo& m_input;
    const infer::Model& m_model;
    TilePlan m_tiles;
    ExecutorChoice m_executor;
    StitchGeometry m_stitch;
    WriteOptions m_write;
    OutputLayout m_layout;
    std::filesystem::path m_partial;
    FlopTable m_flops;
    GdalCachePlan m_cache;
    int m_threads = 1;
    int m_tokens = 2;
};

} // namespace atrous
