// SPDX-License-Identifier: Apache-2.0
// Purpose: the tile dispenser over 1, 2 and 4 in-process ranks: every tile goes to exactly one
// rank, every rank gets work when there is enough, and a signal stops the dispensing everywhere
// without handing a tile out twice.
#include "pipeline/comm/in_process.hpp"
#include "pipeline/comm/tile_dispenser.hpp"
#include "pipeline/run/interrupt_watch.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <mutex>
#include <numeric>
#include <thread>

namespace
{

using namespace atrous;

class Dispenser : public ::testing::TestWithParam<int>
{
};

TEST_P(Dispenser, EveryTileGoesToExactlyOneRank)
{
    const int ranks = GetParam();
    const InterruptWatch watch;
    std::vector<TileId> tiles(203);
    std::iota(tiles.begin(), tiles.end(), TileId{0});
    std::mutex mutex;
    std::vector<int> given(tiles.size(), 0);
    std::vector<long long> per_rank(static_cast<std::size_t>(ranks), 0);
    InProcessWorld::run(ranks,
                        [&](Communicator& comm)
                        {
                            TileDispenser d(tiles, watch, comm);
                            while (const std::optional<TileId> t = d.next())
                            {
                                // A little work per tile, so every rank gets to ask.
                                std::this_thread::sleep_for(std::chrono::microseconds(200));
                                std::lock_guard lock(mutex);
                                ++given[static_cast<std::size_t>(*t)];
                            }
                            EXPECT_FALSE(d.interrupted());
                            EXPECT_FALSE(d.next()); // stays finished
                            per_rank[static_cast<std::size_t>(comm.rank())] = d.taken();
                            d.close();
                        });
    for (std::size_t i = 0; i < given.size(); ++i)
        ASSERT_EQ(given[i], 1) << "tile " << i;
    EXPECT_EQ(std::accumulate(per_rank.begin(), per_rank.end(), 0LL), 203);
    for (int r = 0; r < ranks; ++r)
        EXPECT_GT(per_rank[static_cast<std::size_t>(r)], 0) << "rank " << r << " idled";
}

TEST_P(Dispenser, ASignalStopsEveryRankAndNoTileIsGivenTwice)
{
    const int ranks = GetParam();
    const InterruptWatch watch;
    std::vector<TileId> tiles(500);
    std::iota(tiles.begin(), tiles.end(), TileId{0});
    std::mutex mutex;
    std::vector<int> given(tiles.size(), 0);
    std::atomic<long long> total{0};
    InProcessWorld::run(ranks,
                        [&](Communicator& comm)
                        {
                            TileDispenser d(tiles, watch, comm);
                            while (const std::optional<TileId> t = d.next())
                            {
                                std::this_thread::sleep_for(std::chrono::microseconds(300));
                                {
                                    std::lock_guard lock(mutex);
                                    ++given[static_cast<std::size_t>(*t)];
                                }
                                if (total.fetch_add(1) == 20)
                                    std::raise(SIGUSR1);
                            }
                            EXPECT_TRUE(d.interrupted()) << "rank " << comm.rank();
                            d.close();
                        });
    EXPECT_TRUE(watch.requested());
    EXPECT_LT(total.load(), 500);
    for (std::size_t i = 0; i < given.size(); ++i)
        ASSERT_LE(given[i], 1) << "tile " << i;
}

INSTANTIATE_TEST_SUITE_P(Ranks, Dispenser, ::testing::Values(1, 2, 4),
                         [](const ::testing::TestParamInfo<int>& p)
                         { return std::to_string(p.param) + "_ranks"; });

} // namespace
