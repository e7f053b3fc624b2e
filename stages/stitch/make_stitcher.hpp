// SPDX-License-Identifier: Apache-2.0
// Purpose: factory of the stitch stage; the pipeline builds stitchers only through this function.
#pragma once

#include "stages/stage.hpp"
#include "stages/stitch/stitch_options.hpp"

#include <memory>

namespace atrous
{

/// `stitch.crop` or `stitch.blend` per options.mode, for the tile grid in `geometry`. add() is
/// thread-safe (several tiles may be stitched at once). Throws atrous::Error (internal, a pipeline
/// bug) when the geometry is inconsistent (non-positive sizes, grid not covering the image).
std::unique_ptr<Stitcher> make_stitcher(const StitchOptions& options,
                                        const StitchGeometry& geometry);

} // namespace atrous
