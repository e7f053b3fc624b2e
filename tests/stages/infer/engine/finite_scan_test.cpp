// SPDX-License-Identifier: Apache-2.0
// Purpose: the non-finite scan: position of the first NaN/Inf in flat arrays (every block
// boundary), contiguous tensors and channel-slice views; nothing found in finite data.
#include "stages/infer/engine/finite_scan.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace atrous::infer
{
namespace
{

TEST(FiniteScan, FlatArrays)
{
    std::vector<float> v(10000, 1.0f);
    v[7] = std::numeric_limits<float>::max(); // large but finite
    v[9] = -0.0f;
    v[10] = std::numeric_limits<float>::denorm_min();
    EXPECT_FALSE(first_non_finite(v.data(), v.size()));
    for (const std::size_t at :
         {std::size_t{0}, std::size_t{4095}, std::size_t{4096}, std::size_t{9999}})
    {
        for (const float bad :
             {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
              -std::numeric_limits<float>::infinity()})
        {
            std::vector<float> w = v;
            w[at] = bad;
            w[9999] = at == 9999 ? bad : std::numeric_limits<float>::quiet_NaN(); // a later one
            const auto found = first_non_finite(w.data(), w.size());
            ASSERT_TRUE(found);
            EXPECT_EQ(*found, at);
        }
    }
    EXPECT_FALSE(first_non_finite(v.data(), 0));
}

TEST(FiniteScan, TensorsAndViews)
{
    Tensor t(Shape{1, 3, 4, 5}, 0.5f);
    EXPECT_FALSE(first_non_finite(t));
    t.at(0, 2, 1, 3) = std::numeric_limits<float>::infinity();
    const auto f = first_non_finite(t);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->y, 2);
    EXPECT_EQ(f->x, 1);
    EXPECT_EQ(f->c, 3);
    EXPECT_STREQ(non_finite_name(f->value), "+Inf");

    // A 2-channel slice (channels 1..2) of the 5-channel buffer: the Inf at channel 3 is outside.
    const Tensor slice = Tensor::view(Shape{1, 3, 4, 2}, t.data() + 1, 5);
    EXPECT_FALSE(first_non_finite(slice));
    t.at(0, 1, 3, 2) = std::numeric_limits<float>::quiet_NaN();
    const auto g = first_non_finite(slice);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->y, 1);
    EXPECT_EQ(g->x, 3);
    EXPECT_EQ(g->c, 1);
    EXPECT_STREQ(non_finite_name(g->value), "NaN");
}

} // namespace
} // namespace atrous::infer
