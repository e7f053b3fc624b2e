// SPDX-License-Identifier: Apache-2.0
// Purpose: the check that a band's normalization keeps every value its data type can hold
// finite in float32 (the network's input type); the reader runs it once it knows the types.
#pragma once

#include "stages/read/read_options.hpp"

#include <cmath>
#include <limits>
#include <optional>

namespace atrous
{

/// The value of [lo, hi] (a data type's range) that `n` maps beyond float32 (NaN included), if
/// any. The map is affine, so the two ends decide.
inline std::optional<double> overflowing_input(const BandNormalization& n, double lo, double hi)
{
    constexpr double limit = std::numeric_limits<float>::max();
    for (const double v : {lo, hi})
        if (!(std::fabs(v * n.scale + n.offset) <= limit))
            return v;
    return std::nullopt;
}

} // namespace atrous
