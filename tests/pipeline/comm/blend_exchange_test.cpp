// SPDX-License-Identifier: Apache-2.0
// Purpose: BlendExchange's wire format: a share survives pack/unpack bit for bit; bad bytes are
// refused; over 1, 2 and 4 in-process ranks fed by the tile dispenser, the blended cores are the
// bytes of one process. (Over MPI: tests/e2e/resume_test.py mpi_blend, 1/2/4 ranks.)
#include "pipeline/comm/blend_exchange.hpp"
#include "pipeline/comm/in_process.hpp"
#include "pipeline/comm/tile_dispenser.hpp"
#include "pipeline/run/interrupt_watch.hpp"
#include "stages/error.hpp"
#include "tests/stages/stitch/stitch_fixture.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>

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

/// Each tile sees a slightly different field, so the blend's weights and summation order show.
float tile_field(TileId id, int c, int x, int y)
{
    return 0.5f + 0.4f * std::sin(0.3f * x + 0.2f * y + static_cast<float>(c)) +
           0.01f * static_cast<float>(id % 7);
}

/// Cores (by tile id) -> the bytes of their probabilities and validity.
using Cores = std::map<TileId, std::vector<std::uint8_t>>;

void keep(Cores& cores, std::mutex& mutex, std::vector<OutputBlock>&& blocks)
{
    std::lock_guard lock(mutex);
    for (const OutputBlock& b : blocks)
    {
        ASSERT_EQ(b.tiles.size(), 1u);
        std::vector<std::uint8_t> bytes(b.probabilities.size() * sizeof(float) + b.valid.size());
        std::memcpy(bytes.data(), b.probabilities.data(), b.probabilities.size() * sizeof(float));
        std::memcpy(bytes.data() + b.probabilities.size() * sizeof(float), b.valid.data(),
                    b.valid.size());
        ASSERT_TRUE(cores.emplace(b.tiles[0], std::move(bytes)).second)
            << "core " << b.tiles[0] << " written twice";
    }
}

Cores blend_over(int ranks, const StitchGeometry& g)
{
    const InterruptWatch watch;
    std::vector<TileId> tiles(static_cast<std::size_t>(g.rows * g.columns));
    std::iota(tiles.begin(), tiles.end(), TileId{0});
    Cores cores;
    std::mutex mutex;
    InProcessWorld::run(
        ranks,
        [&](Communicator& comm)
        {
            BlendStitcher stitcher(g);
            RunContext ctx;
            ctx.rank = comm.rank();
            ctx.ranks = comm.size();
            stitcher.prepare(ctx);
            const auto deliver = [&](std::vector<OutputBlock>&& blocks)
            { keep(cores, mutex, std::move(blocks)); };
            BlendExchange exchange(stitcher, deliver, comm);
            TileDispenser dispenser(tiles, watch, comm);
            while (const std::optional<TileId> id = dispenser.next())
            {
                const TileTask t = test::tile_task(g, static_cast<int>(*id / g.columns),
                                                   static_cast<int>(*id % g.columns));
                deliver(stitcher.add(test::predict(
                    g, t, [&](int c, int x, int y) { return tile_field(*id, c, x, y); })));
                exchange.send(stitcher.take_outgoing());
            }
            exchange.finish();
            dispenser.close();
            EXPECT_EQ(stitcher.pending(), 0u) << "rank " << comm.rank();
        });
    return cores;
}

TEST(BlendExchange, InProcessRanksGiveTheBytesOfOneProcess)
{
    const StitchGeometry g = test::grid(70, 53, 16, 9, 2);
    const Cores one = blend_over(1, g);
    ASSERT_EQ(one.size(), static_cast<std::size_t>(g.rows * g.columns));
    for (const int ranks : {2, 4})
    {
        const Cores many = blend_over(ranks, g);
        ASSERT_EQ(many.size(), one.size()) << ranks << " ranks";
        for (const auto& [id, bytes] : one)
            EXPECT_EQ(many.at(id), bytes) << "core " << id << ", " << ranks << " ranks";
    }
}

} // namespace
