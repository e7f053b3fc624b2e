// SPDX-License-Identifier: Apache-2.0
// Purpose: a band's normalization against its data type's range: the value that would leave
// float32 is found; ordinary normalizations pass.
#include "stages/read/normalization_range.hpp"

#include <gtest/gtest.h>

namespace atrous
{
namespace
{

TEST(NormalizationRange, FindsTheValueThatLeavesFloat32)
{
    // UInt16 [0, 65535].
    EXPECT_FALSE(overflowing_input({1.0 / 65535, 0.0}, 0, 65535));
    EXPECT_FALSE(overflowing_input({1e30, 0.0}, 0, 65535)); // 6.6e34: large but finite
    EXPECT_EQ(overflowing_input({1e35, 0.0}, 0, 65535), 65535.0);
    // Int32: the negative end overflows first.
    EXPECT_EQ(overflowing_input({1e30, 0.0}, -2147483648.0, 2147483647.0), -2147483648.0);
    // The offset alone overflows at every value; NaN never passes.
    EXPECT_EQ(overflowing_input({1.0, 1e39}, 0, 255), 0.0);
    EXPECT_EQ(overflowing_input({std::nan(""), 0.0}, 0, 255), 0.0);
}

} // namespace
} // namespace atrous
