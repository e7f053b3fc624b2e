// SPDX-License-Identifier: Apache-2.0
// Purpose: options of the stitch stage (config key `tile.stitch`).
#pragma once

namespace atrous
{

enum class StitchMode
{
    crop,  // keep each tile's core (overlap-tile strategy): exact with an exact halo
    blend, // weighted average of overlapping window predictions
};

struct StitchOptions
{
    StitchMode mode = StitchMode::crop;
};

} // namespace atrous
