// SPDX-License-Identifier: Apache-2.0
// Purpose: stitch.blend: identical predictions come out unchanged, emitted regions are disjoint
// and complete in any arrival order, seams are the documented weighted average, memory stays
// bounded, empty tiles and nodata contribute nothing.
#include "stages/error.hpp"
#include "stages/stitch/blend_stitcher.hpp"
#include "stages/stitch/make_stitcher.hpp"
#include "tests/stages/stitch/stitch_fixture.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <numbers>
#include <random>
#include <string>

namespace
{

using namespace atrous;

float field(int c, int x, int y)
{
    return 0.5f + 0.4f * std::sin(0.3f * x + 0.2f * y + static_cast<float>(c));
}

struct Case
{
    int width, height, tile, halo, channels;
    bool shuffle;
};

class BlendGrid : public ::testing::TestWithParam<Case>
{
};

TEST_P(BlendGrid, IdenticalPredictionsComeOutUnchangedOncePerPixel)
{
    const Case k = GetParam();
    const StitchGeometry g = test::grid(k.width, k.height, k.tile, k.halo, k.channels);
    auto stitcher = make_stitcher(StitchOptions{StitchMode::blend}, g);
    auto* blend = dynamic_cast<BlendStitcher*>(stitcher.get());
    ASSERT_NE(blend, nullptr);
    EXPECT_EQ(stitcher->name(), "stitch.blend");

    std::vector<TileTask> order;
    for (int row = 0; row < g.rows; ++row)
        for (int col = 0; col < g.columns; ++col)
            order.push_back(test::tile_task(g, row, col));
    if (k.shuffle)
        std::shuffle(order.begin(), order.end(), std::mt19937(42));

    std::vector<int> hits(static_cast<std::size_t>(k.width) * k.height, 0);
    std::vector<TileId> emitted;
    std::size_t max_pending = 0;
    for (const TileTask& t : order)
    {
        for (const OutputBlock& b : stitcher->add(test::predict(g, t, field)))
        {
            ASSERT_EQ(b.tiles.size(), 1u);
            emitted.push_back(b.tiles[0]);
            const TileId id = b.tiles[0];
            EXPECT_EQ(b.region, test::tile_task(g, static_cast<int>(id / g.columns),
                                                static_cast<int>(id % g.columns))
                                    .core);
            const std::size_t plane = static_cast<std::size_t>(b.region.width) * b.region.height;
            for (int y = 0; y < b.region.height; ++y)
            {
                for (int x = 0; x < b.region.width; ++x)
                {
                    const std::size_t o = static_cast<std::size_t>(y) * b.region.width + x;
                    const int ix = b.region.x + x, iy = b.region.y + y;
                    ++hits[static_cast<std::size_t>(iy) * k.width + ix];
                    ASSERT_EQ(b.valid[o], 1);
                    for (int c = 0; c < k.channels; ++c)
                        ASSERT_NEAR(b.probabilities[c * plane + o], field(c, ix, iy), 1e-6f)
                            << "c " << c << " at " << ix << "," << iy;
                }
            }
        }
        max_pending = std::max(max_pending, blend->pending());
    }
    for (const int h : hits)
        ASSERT_EQ(h, 1) << "regions must be disjoint and complete";
    std::sort(emitted.begin(), emitted.end());
    ASSERT_EQ(emitted.size(), static_cast<std::size_t>(g.columns * g.rows));
    for (std::size_t i = 0; i < emitted.size(); ++i)
        ASSERT_EQ(emitted[i], static_cast<TileId>(i));
    EXPECT_EQ(blend->pending(), 0u);
    if (!k.shuffle)
    {
        // Row-major arrival: only the cores within reach of the current row wait.
        const int reach = (k.halo + k.tile - 1) / k.tile;
        EXPECT_LE(max_pending, static_cast<std::size_t>((2 * reach + 1) * g.columns));
    }
}

INSTANTIATE_TEST_SUITE_P(Grids, BlendGrid,
                         ::testing::Values(Case{37, 29, 16, 5, 1, false},
                                           Case{37, 29, 16, 5, 2, true},
                                           Case{50, 41, 8, 20, 3, true}, // halo spans 3 tiles
                                           Case{64, 64, 16, 0, 1, false},
                                           Case{130, 97, 16, 6, 1, false}),
                         // A readable, stable name: ctest lists the names at build time.
                         [](const ::testing::TestParamInfo<Case>& param_info)
                         {
                             const Case& c = param_info.param;
                             return std::to_string(c.width) + "x" + std::to_string(c.height) +
                                    "_tile" + std::to_string(c.tile) + "_halo" +
                                    std::to_string(c.halo) + "_c" + std::to_string(c.channels) +
                                    (c.shuffle ? "_shuffled" : "_rowmajor");
                         });

TEST(BlendStitcher, SeamIsTheCosineWeightedAverage)
{
    // Two tiles side by side, constant predictions 0.2 and 0.8.
    const StitchGeometry g = test::grid(20, 10, 10, 4, 1);
    BlendStitcher stitcher(g);
    const TileTask left = test::tile_task(g, 0, 0);
    const TileTask right = test::tile_task(g, 0, 1);
    EXPECT_TRUE(stitcher.add(test::predict(g, left, [](int, int, int) { return 0.2f; })).empty());
    const std::vector<OutputBlock> blocks =
        stitcher.add(test::predict(g, right, [](int, int, int) { return 0.8f; }));
    ASSERT_EQ(blocks.size(), 2u);
    const OutputBlock& a = blocks[0].region.x == 0 ? blocks[0] : blocks[1];
    const OutputBlock& b = blocks[0].region.x == 0 ? blocks[1] : blocks[0];
    const auto weight = [](int d) { return 0.5 * (1.0 + std::cos(std::numbers::pi * d / 5.0)); };
    for (int y = 0; y < 10; ++y)
    {
        for (int x = 0; x < 10; ++x)
        {
            // Left core pixel x: right tile at distance 10 - x (contributes when <= 4).
            const int dl = 10 - x;
            const double wl = dl <= 4 ? weight(dl) : 0.0;
            EXPECT_NEAR(a.probabilities[y * 10 + x], (0.2 + wl * 0.8) / (1.0 + wl), 1e-6)
                << x << "," << y;
            // Right core pixel 10 + x: left tile at distance x + 1.
            const int dr = x + 1;
            const double wr = dr <= 4 ? weight(dr) : 0.0;
            EXPECT_NEAR(b.probabilities[y * 10 + x], (0.8 + wr * 0.2) / (1.0 + wr), 1e-6)
                << x << "," << y;
        }
    }
}

TEST(BlendStitcher, EmptyTilesAndNodataContributeNothing)
{
    const StitchGeometry g = test::grid(30, 10, 10, 3, 1);
    BlendStitcher stitcher(g);
    // The middle tile is empty: its core (x 10..19) is nodata in every window.
    const auto nodata_middle = [&](const TileTask& t)
    {
        Prediction p = test::predict(g, t, [](int, int, int) { return 0.9f; });
        for (int y = 0; y < t.window.height; ++y)
            for (int x = 0; x < t.window.width; ++x)
                if (t.window.x + x >= 10 && t.window.x + x < 20)
                    p.valid[static_cast<std::size_t>(y) * t.window.width + x] = 0;
        return p;
    };
    std::vector<OutputBlock> blocks = stitcher.add(nodata_middle(test::tile_task(g, 0, 0)));
    Prediction empty;
    empty.task = test::tile_task(g, 0, 1);
    empty.empty = true;
    for (OutputBlock& b : stitcher.add(std::move(empty)))
        blocks.push_back(std::move(b));
    for (OutputBlock& b : stitcher.add(nodata_middle(test::tile_task(g, 0, 2))))
        blocks.push_back(std::move(b));
    ASSERT_EQ(blocks.size(), 3u);
    for (const OutputBlock& b : blocks)
    {
        const bool middle = b.region.x == 10;
        for (std::size_t o = 0; o < b.valid.size(); ++o)
        {
            ASSERT_EQ(b.valid[o], middle ? 0 : 1);
            ASSERT_NEAR(b.probabilities[o], middle ? 0.0f : 0.9f, 1e-6f);
        }
    }
}

TEST(BlendStitcher, RejectsATileAddedTwice)
{
    const StitchGeometry g = test::grid(20, 20, 10, 2, 1);
    BlendStitcher stitcher(g);
    const TileTask t = test::tile_task(g, 0, 0);
    stitcher.add(test::predict(g, t, field));
    try
    {
        stitcher.add(test::predict(g, t, field));
        FAIL() << "no error";
    }
    catch (const Error& e)
    {
        EXPECT_STREQ(e.what(), "stitch.blend: tile 0 added twice");
    }
}

/// A prediction that differs from tile to tile (so the blend weights matter to every bit).
Prediction tile_prediction(const StitchGeometry& g, const TileTask& t)
{
    const float bias = 0.05f * static_cast<float>(t.id % 7);
    return test::predict(g, t, [&](int c, int x, int y) { return field(c, x, y) * 0.8f + bias; });
}

/// Bit pattern of a block's data (floats compared as bytes: NaN-safe, no tolerance).
std::string bits(const OutputBlock& b)
{
    std::string out(reinterpret_cast<const char*>(b.probabilities.data()),
                    b.probabilities.size() * sizeof(float));
    out.append(b.valid.begin(), b.valid.end());
    return out;
}

/// Runs every tile through `ranks` stitchers (tile i computed by a random rank, tiles in a random
/// order, shares delivered to their owner in a random order); returns each core's block bits and
/// checks that the owner emitted it, once.
std::map<TileId, std::string> stitch_on_ranks(const StitchGeometry& g, int ranks, unsigned seed)
{
    std::vector<std::unique_ptr<BlendStitcher>> st;
    for (int r = 0; r < ranks; ++r)
    {
        st.push_back(std::make_unique<BlendStitcher>(g));
        RunContext ctx;
        ctx.rank = r;
        ctx.ranks = ranks;
        st.back()->prepare(ctx);
    }
    std::vector<TileTask> order;
    for (int row = 0; row < g.rows; ++row)
        for (int col = 0; col < g.columns; ++col)
            order.push_back(test::tile_task(g, row, col));
    std::mt19937 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    std::map<TileId, std::string> out;
    const auto take = [&](int rank, std::vector<OutputBlock>&& blocks)
    {
        for (const OutputBlock& b : blocks)
        {
            EXPECT_EQ(st[0]->owner(b.tiles[0]), rank) << "core " << b.tiles[0];
            EXPECT_TRUE(out.emplace(b.tiles[0], bits(b)).second) << "core " << b.tiles[0];
        }
    };
    std::vector<std::pair<int, BlendShare>> in_flight;
    for (const TileTask& t : order)
    {
        const int rank = static_cast<int>(rng() % static_cast<unsigned>(ranks));
        take(rank, st[static_cast<std::size_t>(rank)]->add(tile_prediction(g, t)));
        for (BlendShare& s : st[static_cast<std::size_t>(rank)]->take_outgoing())
        {
            EXPECT_NE(st[0]->owner(s.target), rank);
            in_flight.emplace_back(st[0]->owner(s.target), std::move(s));
        }
        // Deliver some of the shares in flight, in a random order.
        std::shuffle(in_flight.begin(), in_flight.end(), rng);
        while (!in_flight.empty() && rng() % 3 != 0)
        {
            auto [owner, share] = std::move(in_flight.back());
            in_flight.pop_back();
            take(owner, st[static_cast<std::size_t>(owner)]->accept(std::move(share)));
        }
    }
    for (auto& [owner, share] : in_flight)
        take(owner, st[static_cast<std::size_t>(owner)]->accept(std::move(share)));
    for (const auto& s : st)
        EXPECT_EQ(s->pending(), 0u);
    EXPECT_EQ(out.size(), static_cast<std::size_t>(g.columns * g.rows));
    return out;
}

TEST(BlendStitcher, SameBitsForAnyRankCountAndArrivalOrder)
{
    for (const Case k : {Case{37, 29, 8, 5, 2, true}, Case{50, 41, 8, 20, 1, true}})
    {
        const StitchGeometry g = test::grid(k.width, k.height, k.tile, k.halo, k.channels);
        // Reference: one process, row-major.
        BlendStitcher one(g);
        std::map<TileId, std::string> ref;
        for (int row = 0; row < g.rows; ++row)
            for (int col = 0; col < g.columns; ++col)
                for (const OutputBlock& b :
                     one.add(tile_prediction(g, test::tile_task(g, row, col))))
                    ref.emplace(b.tiles[0], bits(b));
        for (const int ranks : {1, 2, 3, 4})
        {
            for (const unsigned seed : {1u, 2u})
            {
                const auto got = stitch_on_ranks(g, ranks, seed);
                for (const auto& [core, data] : ref)
                    ASSERT_EQ(got.at(core), data)
                        << "core " << core << ", " << ranks << " ranks, seed " << seed;
            }
        }
    }
}

TEST(BlendStitcher, FinalCoresGetNoShareAndAreNeverEmitted)
{
    const StitchGeometry g = test::grid(40, 30, 10, 4, 1);
    BlendStitcher stitcher(g);
    std::vector<std::uint8_t> final_cores(static_cast<std::size_t>(g.columns * g.rows), 0);
    final_cores[0] = final_cores[5] = 1;
    stitcher.skip_final(final_cores);
    std::vector<TileId> emitted;
    for (int row = 0; row < g.rows; ++row)
        for (int col = 0; col < g.columns; ++col)
            for (const OutputBlock& b :
                 stitcher.add(tile_prediction(g, test::tile_task(g, row, col))))
                emitted.push_back(b.tiles[0]);
    EXPECT_EQ(emitted.size(), static_cast<std::size_t>(g.columns * g.rows - 2));
    EXPECT_EQ(std::count(emitted.begin(), emitted.end(), 0), 0);
    EXPECT_EQ(std::count(emitted.begin(), emitted.end(), 5), 0);
    EXPECT_EQ(stitcher.pending(), 0u);
}

TEST(BlendStitcher, ResumeNeedsThePendingCoresAndTheirNeighboursOnly)
{
    // 6 x 3 tiles of 10 px, halo 4: a grown core reaches one tile around. Every core but 17
    // (row 2, col 5) is done: core 17 needs the tiles whose grown core touches it.
    const StitchGeometry g = test::grid(60, 30, 10, 4, 1);
    BlendStitcher stitcher(g);
    std::vector<std::uint8_t> done(static_cast<std::size_t>(g.columns * g.rows), 1);
    done[17] = 0;
    const std::vector<TileId> needed = stitcher.resume(done);
    EXPECT_EQ(needed, (std::vector<TileId>{10, 11, 16, 17}));
    // Those tiles alone complete core 17, and nothing else is emitted.
    std::vector<TileId> emitted;
    for (const TileId id : needed)
    {
        const int row = static_cast<int>(id / g.columns);
        const int col = static_cast<int>(id % g.columns);
        for (const OutputBlock& b : stitcher.add(tile_prediction(g, test::tile_task(g, row, col))))
            emitted.push_back(b.tiles[0]);
    }
    EXPECT_EQ(emitted, (std::vector<TileId>{17}));
    EXPECT_EQ(stitcher.pending(), 0u);
}

TEST(BlendStitcher, ResumeOfAClassifierNeedsTheTilesNotDone)
{
    StitchGeometry g = test::grid(30, 20, 10, 0, 2);
    g.spatial = false;
    BlendStitcher stitcher(g);
    const std::vector<std::uint8_t> done{1, 0, 1, 1, 0, 1};
    EXPECT_EQ(stitcher.resume(done), (std::vector<TileId>{1, 4}));
}

TEST(BlendStitcher, RejectsAShareOfACoreOwnedElsewhere)
{
    const StitchGeometry g = test::grid(20, 20, 10, 2, 1);
    BlendStitcher stitcher(g);
    RunContext ctx;
    ctx.rank = 1;
    ctx.ranks = 2;
    stitcher.prepare(ctx);
    BlendShare s;
    s.target = 2; // owned by rank 0
    s.source = 3;
    s.channels = 1;
    s.empty = true;
    s.region = {0, 10, 0, 0};
    try
    {
        stitcher.accept(std::move(s));
        FAIL() << "no error";
    }
    catch (const Error& e)
    {
        EXPECT_STREQ(e.what(), "stitch.blend: share of tile 3 for core 2: owned by rank 0, not 1");
    }
}

TEST(BlendStitcher, ClassifierIsOneCellPerTile)
{
    StitchGeometry g = test::grid(20, 20, 10, 0, 2);
    g.spatial = false;
    BlendStitcher stitcher(g);
    Prediction p;
    p.task = test::tile_task(g, 1, 0);
    p.probabilities = Image(ImageShape{1, 1, 2}, 0.5f);
    const std::vector<OutputBlock> blocks = stitcher.add(std::move(p));
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0].region, (Window{0, 1, 1, 1}));
    EXPECT_EQ(blocks[0].probabilities, (std::vector<float>{0.5f, 0.5f}));
}

} // namespace
