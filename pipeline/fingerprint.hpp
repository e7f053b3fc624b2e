// SPDX-License-Identifier: Apache-2.0
// Purpose: the identity of a run's result (input file, raster, model, tile grid and every config
// key that changes the output), recorded in the output so that a partial file is resumed only by
// the same run.
#pragma once

#include "pipeline/config.hpp"
#include "pipeline/tile_plan.hpp"
#include "stages/tile.hpp"

#include <string>
#include <utility>
#include <vector>

namespace atrous
{

using Fingerprint = std::vector<std::pair<std::string, std::string>>;

/// Fields, in order: input.file (size in bytes and modification time, ns), input.raster (size,
/// bands), model.sha256, tile.grid (tile size, halo, columns x rows), then every key of
/// `effective.normalized_yaml()` flattened to dotted names ("input.normalize.scale"), except the
/// keys that do not change the datasets: output.path, output.compression,
/// output.compression_level, model.weights (the sha256 stands for it) and runtime.*.
Fingerprint make_fingerprint(const RunConfig& effective, const RasterInfo& info,
                             const std::string& model_sha256, const TilePlan& plan);

} // namespace atrous
