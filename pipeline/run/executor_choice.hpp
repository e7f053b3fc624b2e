// SPDX-License-Identifier: Apache-2.0
// Purpose: which executor a run uses (tile.executor: auto, tiles or stream) and why, decided once
// by the run plan from the configuration, the model and the planned grid.
#pragma once

#include "pipeline/config/config.hpp"
#include "pipeline/run/tile_plan.hpp"
#include "stages/infer/engine/model.hpp"

#include <cstddef>
#include <string>

namespace atrous
{

/// Output rows per stream step: the stride (whole stride steps keep every layer's rows aligned),
/// at least 16 so each band is many rows of work.
int stream_band_rows(int stride);

/// `tile.executor: auto` streams only when the stream's row buffers fit in this (they grow with
/// the strip's width; the tile executor's memory does not), and `tile.stream_strip: auto` narrows
/// the strips until they do. `stream` named explicitly has no limit. 1.25 GiB of buffers keeps a
/// process under 2 GiB (weights, GDAL cache, HDF5 and I/O buffers: ~0.6 GiB more with the
/// full-width seed U-Net; bench/README.md).
constexpr std::size_t stream_buffer_budget_bytes = std::size_t{1280} << 20;

/// `tile.stream_strip: auto`: output columns per strip before the budget narrows them. Measured on
/// a 4096 px image (bench/README.md): with 2 threads one 4096 px strip ran 16 % faster than two of
/// 2048 px (narrower strips leave less work per layer call for the threads), with 1 thread 9 %
/// slower. An image up to half as wide again streams in one strip.
constexpr int stream_strip_default_px = 4096;

/// Why the stream executor cannot run this configuration and model ("" when it can): a halo
/// other than exact, stitch blend, or a model the stream planner cannot stream (the layer named).
/// Any number of ranks can: they share the image as segments of tile rows.
std::string stream_blocker(const RunConfig& config, const infer::Model& model);

/// Throws ConfigError (where: tile.executor) when `tile.executor: stream` cannot run
/// (stream_blocker). Called before planning, so before the output exists.
void check_executor(const RunConfig& config, const infer::Model& model);

/// The executor a run uses and why.
struct ExecutorChoice
{
    TileOptions::Executor executor = TileOptions::Executor::tiles; // tiles or stream
    std::string why;                                               // for the plan summary
    std::size_t stream_buffer_bytes = 0; // the stream's row buffers per strip (0: not planned)
    int stream_strip_px = 0;             // output columns per strip (0: not planned)
};

/// Resolves tile.executor for the planned grid: tiles and stream as named; auto: stream when
/// stream_blocker finds nothing and its row buffers fit `budget_bytes`, else tiles. Resolves
/// tile.stream_strip too: as named (rounded up to whole tiles), full, or auto: the default,
/// halved (in whole tiles) while its row buffers exceed `budget_bytes`.
ExecutorChoice choose_executor(const RunConfig& config, const infer::Model& model,
                               const TilePlan& plan,
                               std::size_t budget_bytes = stream_buffer_budget_bytes);

} // namespace atrous
