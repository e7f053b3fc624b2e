// SPDX-License-Identifier: Apache-2.0
// Purpose: builds the stitcher the options name.
#include "make_stitcher.hpp"

#include "stages/stitch/blend_stitcher.hpp"
#include "stages/stitch/crop_stitcher.hpp"

namespace atrous
{

std::unique_ptr<Stitcher> make_stitcher(const StitchOptions& options,
                                        const StitchGeometry& geometry)
{
    if (options.mode == StitchMode::blend)
        return std::make_unique<BlendStitcher>(geometry);
    return std::make_unique<CropStitcher>(geometry);
}

} // namespace atrous
