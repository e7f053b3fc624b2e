// SPDX-License-Identifier: Apache-2.0
// Purpose: BlendExchange's wire format: a share survives pack/unpack bit for bit; bad bytes are
// refused. (The MPI transport itself: tests/e2e/resume_test.py mpi_blend, 1/2/4 ranks.)
#include "pipeline/blend_exchange.hpp"
#include "stages/error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace
{

using namespace atrous;

TEST(BlendExchange, PackUnpackRoundTrip)
{
    BlendShare s;
    s.target = 123456789012LL;
    s.source = 7;
    s.region = {3, 4, 2, 3};
    s.channels = 2;
    for (int i = 0; i < 12; ++i)
        s.probabilities.push_back(0.1f * static_cast<float>(i) - 0.3f);
    s.probabilities[5] = std::numeric_limits<float>::quiet_NaN();
    s.valid = {1, 0, 1, 1, 0, 1};
    const BlendShare t = BlendExchange::unpack(BlendExchange::pack(s));
    EXPECT_EQ(t.target, s.target);
    EXPECT_EQ(t.source, s.source);
    EXPECT_EQ(t.region, s.region);
    EXPECT_EQ(t.channels, 2);
    EXPECT_FALSE(t.empty);
    ASSERT_EQ(t.probabilities.size(), 12u);
    for (std::size_t i = 0; i < 12; ++i)
    {
        if (i == 5)
            EXPECT_TRUE(std::isnan(t.probabilities[i]));
        else
            EXPECT_EQ(t.probabilities[i], s.probabilities[i]);
    }
    EXPECT_EQ(t.valid, s.valid);

    BlendShare e;
    e.target = 1;
    e.source = 2;
    e.channels = 3;
    e.empty = true;
    e.region = {0, 0, 5, 5};
    const BlendShare f = BlendExchange::unpack(BlendExchange::pack(e));
    EXPECT_TRUE(f.empty);
    EXPECT_TRUE(f.probabilities.empty());
    EXPECT_EQ(f.region, e.region);
}

TEST(BlendExchange, RefusesBytesThatAreNotAShare)
{
    try
    {
        BlendExchange::unpack(std::vector<std::uint8_t>(10, 0));
        FAIL() << "no error";
    }
    catch (const Error& e)
    {
        EXPECT_STREQ(e.what(), "blend exchange: message of 10 bytes, a share has at least 64");
    }
    BlendShare s;
    s.channels = 1;
    s.region = {0, 0, 2, 2};
    s.probabilities.assign(4, 0.5f);
    s.valid.assign(4, 1);
    std::vector<std::uint8_t> bytes = BlendExchange::pack(s);
    bytes.pop_back();
    try
    {
        BlendExchange::unpack(bytes);
        FAIL() << "no error";
    }
    catch (const Error& e)
    {
        EXPECT_STREQ(e.what(), "blend exchange: share of 83 bytes, 84 expected");
    }
}

} // namespace
