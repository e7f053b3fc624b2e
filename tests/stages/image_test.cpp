// SPDX-License-Identifier: Apache-2.0
// Purpose: the neutral image buffer: its layout, adopting and releasing storage without copies.
#include "stages/image.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>

namespace atrous
{
namespace
{

TEST(Image, ChannelsAreFastestThenColumnsThenRows)
{
    Image image(ImageShape{2, 3, 4}, 0.5f);
    EXPECT_EQ(image.size(), 24u);
    EXPECT_EQ(image.index(0, 0, 1), 1u);
    EXPECT_EQ(image.index(0, 1, 0), 4u);
    EXPECT_EQ(image.index(1, 0, 0), 12u);
    image.at(1, 2, 3) = 7.0f;
    EXPECT_EQ(image.data()[23], 7.0f);
    EXPECT_EQ(image.at(0, 0, 0), 0.5f);
}

TEST(Image, AdoptsAndReleasesItsStorageWithoutCopying)
{
    std::vector<float> storage(6, 1.0f);
    const float* where = storage.data();
    Image image(ImageShape{1, 2, 3}, std::move(storage));
    EXPECT_EQ(image.data(), where);
    const std::vector<float> back = std::move(image).release();
    EXPECT_EQ(back.data(), where);
    EXPECT_TRUE(image.empty()); // release() leaves it empty
    EXPECT_EQ(image.shape(), ImageShape{});
}

TEST(Image, RefusesStorageOfAnotherSize)
{
    EXPECT_THROW(Image(ImageShape{2, 2, 1}, std::vector<float>(3)), std::invalid_argument);
}

TEST(Image, MovingLeavesTheSourceEmpty)
{
    Image a(ImageShape{2, 2, 1}, 3.0f);
    const Image b = std::move(a);
    EXPECT_EQ(b.shape(), (ImageShape{2, 2, 1}));
    EXPECT_TRUE(a.empty()); // a moved-from image is empty
    EXPECT_EQ(a.shape(), ImageShape{});
}

TEST(Image, ShapePrintsHeightWidthChannels)
{
    std::ostringstream s;
    s << ImageShape{5, 6, 2};
    EXPECT_EQ(s.str(), "(5,6,2)");
}

} // namespace
} // namespace atrous
