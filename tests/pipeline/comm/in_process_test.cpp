// SPDX-License-Identifier: Apache-2.0
// Purpose: the in-process communicator (N threads as N ranks): messages keep their order per
// source and tag and match by tag, collectives reduce in rank order, errors name the culprit.
#include "pipeline/comm/in_process.hpp"
#include "stages/error.hpp"

#include <gtest/gtest.h>

#include <atomic>

namespace
{

using namespace atrous;

class InProcess : public ::testing::TestWithParam<int>
{
};

TEST_P(InProcess, MessagesKeepTheirOrderPerSourceAndMatchByTag)
{
    const int ranks = GetParam();
    InProcessWorld::run(
        ranks,
        [&](Communicator& comm)
        {
            EXPECT_EQ(comm.size(), ranks);
            // Every rank sends 50 numbered messages to every rank (itself
            // included) on tag 1 and one marker on tag 2 first.
            for (int d = 0; d < ranks; ++d)
            {
                comm.send(d, 2, {static_cast<std::uint8_t>(comm.rank())});
                for (int i = 0; i < 50; ++i)
                    comm.send(d, 1, {static_cast<std::uint8_t>(i)});
            }
            for (int s = 0; s < ranks; ++s)
            {
                for (int i = 0; i < 50; ++i)
                {
                    const Message m = comm.receive(s, 1);
                    ASSERT_EQ(m.source, s);
                    ASSERT_EQ(m.bytes, std::vector<std::uint8_t>{static_cast<std::uint8_t>(i)});
                }
            }
            int markers = 0;
            while (markers < ranks)
            {
                const Message m = comm.receive(Communicator::any_source, 2);
                EXPECT_EQ(m.bytes[0], m.source);
                ++markers;
            }
            EXPECT_FALSE(comm.try_receive(Communicator::any_source, 1));
            EXPECT_FALSE(comm.try_receive(Communicator::any_source, 2));
        });
}

TEST_P(InProcess, CollectivesReduceOverEveryRank)
{
    const int ranks = GetParam();
    InProcessWorld::run(
        ranks,
        [&](Communicator& comm)
        {
            const int r = comm.rank();
            EXPECT_EQ(comm.sum(r + 1), ranks * (ranks + 1) / 2);
            EXPECT_EQ(comm.any(r == ranks - 1), true);
            EXPECT_EQ(comm.any(false), false);
            std::vector<int> lo{r, 10 - r};
            comm.min(lo);
            EXPECT_EQ(lo, (std::vector<int>{0, 10 - (ranks - 1)}));
            std::vector<std::uint8_t> flags(static_cast<std::size_t>(ranks), 0);
            flags[static_cast<std::size_t>(r)] = 1;
            comm.max(flags);
            EXPECT_EQ(flags, std::vector<std::uint8_t>(static_cast<std::size_t>(ranks), 1));
            std::vector<std::uint8_t> b{0, 0, 0};
            if (r == ranks - 1)
                b = {7, 8, 9};
            comm.broadcast(b, ranks - 1);
            EXPECT_EQ(b, (std::vector<std::uint8_t>{7, 8, 9}));
            const std::vector<double> mine{double(r), double(r) + 0.5};
            const std::vector<double> all = comm.gather(mine, 0);
            if (r == 0)
            {
                ASSERT_EQ(all.size(), 2u * ranks);
                for (int i = 0; i < ranks; ++i)
                {
                    EXPECT_EQ(all[2 * i], i);
                    EXPECT_EQ(all[2 * i + 1], i + 0.5);
                }
            }
            else
            {
                EXPECT_TRUE(all.empty());
            }
            comm.barrier();
        });
}

INSTANTIATE_TEST_SUITE_P(Ranks, InProcess, ::testing::Values(1, 2, 4),
                         [](const ::testing::TestParamInfo<int>& p)
                         { return std::to_string(p.param) + "_ranks"; });

TEST(InProcess, SendToAMissingRankNamesIt)
{
    InProcessWorld world(2);
    try
    {
        world.rank(0).send(5, 1, {});
        FAIL() << "no error";
    }
    catch (const Error& e)
    {
        EXPECT_NE(std::string(e.what()).find("rank 5 of 2"), std::string::npos) << e.what();
    }
}

TEST(InProcess, ARanksErrorReachesTheCaller)
{
    EXPECT_THROW(InProcessWorld::run(2,
                                     [](Communicator& comm)
                                     {
                                         if (comm.rank() == 1)
                                             throw Error("test", "rank 1 failed");
                                     }),
                 Error);
}

TEST(Solo, IsOneRankAndCollectivesAreIdentities)
{
    SoloCommunicator solo;
    EXPECT_EQ(solo.rank(), 0);
    EXPECT_EQ(solo.size(), 1);
    EXPECT_EQ(solo.sum(41LL), 41);
    EXPECT_TRUE(solo.any(true));
    const std::vector<double> v{1, 2};
    EXPECT_EQ(solo.gather(v, 0), v);
    EXPECT_THROW(solo.send(1, 1, {}), Error);
}

} // namespace
