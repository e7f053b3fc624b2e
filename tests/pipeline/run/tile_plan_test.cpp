// SPDX-License-Identifier: Apache-2.0
// Purpose: tests of the tile grid: exact partition by cores, stride-aligned windows, halo rounding.
#include "pipeline/run/tile_plan.hpp"
#include "stages/error.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace atrous
{
namespace
{

infer::ModelFacts unet_facts(int stride, int halo)
{
    infer::ModelFacts f;
    f.in_channels = 2;
    f.out_channels = 1;
    f.spatial = true;
    f.total_stride = stride;
    f.halo_px = halo;
    f.receptive_radius_px = halo;
    return f;
}

/// Every pixel of the image is in exactly one core; every window contains its core, is aligned
/// to the stride on every edge, stays inside the padded image and covers core +- halo there.
void check_plan(const TilePlan& plan)
{
    const int w = plan.image_width();
    const int h = plan.image_height();
    const int s = plan.stride();
    std::vector<int> hits(static_cast<std::size_t>(w) * h, 0);
    ASSERT_EQ(plan.padded_width() % s, 0);
    ASSERT_EQ(plan.padded_height() % s, 0);
    ASSERT_GE(plan.padded_width(), w);
    ASSERT_LT(plan.padded_width() - w, s);
    for (TileId id = 0; id < plan.count(); ++id)
    {
        const TileTask t = plan.task(id);
        SCOPED_TRACE(testing::Message() << "tile " << id << " row " << t.row << " col " << t.col);
        EXPECT_EQ(t.id, id);
        EXPECT_EQ(t.row * plan.columns() + t.col, id);
        ASSERT_GT(t.core.width, 0);
        ASSERT_GT(t.core.height, 0);
        for (int y = t.core.y; y < t.core.y + t.core.height; ++y)
            for (int x = t.core.x; x < t.core.x + t.core.width; ++x)
            {
                ASSERT_TRUE(x >= 0 && x < w && y >= 0 && y < h) << x << "," << y;
                ++hits[static_cast<std::size_t>(y) * w + x];
            }
        const Window& win = t.window;
        EXPECT_EQ(win.x % s, 0);
        EXPECT_EQ(win.y % s, 0);
        EXPECT_EQ(win.width % s, 0);
        EXPECT_EQ(win.height % s, 0);
        EXPECT_GE(win.x, 0);
        EXPECT_GE(win.y, 0);
        EXPECT_LE(win.x + win.width, plan.padded_width());
        EXPECT_LE(win.y + win.height, plan.padded_height());
        // Covers the core grown by the halo, as far as the padded image allows.
        EXPECT_EQ(win.x, std::max(0, t.core.x - plan.halo_px()));
        EXPECT_EQ(win.y, std::max(0, t.core.y - plan.halo_px()));
        EXPECT_GE(win.x + win.width,
                  std::min(t.core.x + t.core.width + plan.halo_px(), plan.padded_width()));
        EXPECT_GE(win.y + win.height,
                  std::min(t.core.y + t.core.height + plan.halo_px(), plan.padded_height()));
        EXPECT_LE(win.width, plan.largest_window().width);
        EXPECT_LE(win.height, plan.largest_window().height);
    }
    for (std::size_t i = 0; i < hits.size(); ++i)
        ASSERT_EQ(hits[i], 1) << "pixel " << i % w << "," << i / w;
}

TEST(TilePlan, CoresPartitionOddImages)
{
    for (int w : {1, 7, 16, 77, 256, 300})
        for (int h : {1, 5, 53, 129})
            for (int size : {8, 16, 32})
            {
                SCOPED_TRACE(testing::Message() << w << "x" << h << " tile " << size);
                TilePlan plan({w, h, size, std::nullopt}, unet_facts(8, 44));
                EXPECT_EQ(plan.columns(), (w + size - 1) / size);
                EXPECT_EQ(plan.rows(), (h + size - 1) / size);
                check_plan(plan);
            }
}

TEST(TilePlan, ExactHaloIsTheModelsRoundedUpToTheStride)
{
    TilePlan exact({77, 53, 16, std::nullopt}, unet_facts(8, 44));
    EXPECT_EQ(exact.halo_px(), 48);
    TilePlan explicit_halo({77, 53, 16, 9}, unet_facts(8, 44));
    EXPECT_EQ(explicit_halo.halo_px(), 16);
    TilePlan zero({77, 53, 16, 0}, unet_facts(8, 44));
    EXPECT_EQ(zero.halo_px(), 0);
    check_plan(zero);
    TilePlan big({77, 53, 16, 100}, unet_facts(4, 44));
    EXPECT_EQ(big.halo_px(), 100);
    check_plan(big);
}

TEST(TilePlan, WindowsOfAnOddImage)
{
    // 77x53, stride 8 -> padded 80x56; tile 32, halo 8.
    TilePlan plan({77, 53, 32, 8}, unet_facts(8, 8));
    EXPECT_EQ(plan.padded_width(), 80);
    EXPECT_EQ(plan.padded_height(), 56);
    ASSERT_EQ(plan.columns(), 3);
    ASSERT_EQ(plan.rows(), 2);
    const TileTask first = plan.task(0);
    EXPECT_EQ(first.core, (Window{0, 0, 32, 32}));
    EXPECT_EQ(first.window, (Window{0, 0, 40, 40}));
    const TileTask middle = plan.task(1);
    EXPECT_EQ(middle.core, (Window{32, 0, 32, 32}));
    EXPECT_EQ(middle.window, (Window{24, 0, 48, 40}));
    const TileTask last = plan.task(5);
    EXPECT_EQ(last.core, (Window{64, 32, 13, 21}));
    EXPECT_EQ(last.window, (Window{56, 24, 24, 32}));
}

TEST(TilePlan, NoHaloStillAlignsTheLastWindow)
{
    TilePlan plan({77, 53, 16, 0}, unet_facts(8, 44));
    const TileTask last = plan.task(plan.count() - 1);
    EXPECT_EQ(last.core, (Window{64, 48, 13, 5}));
    EXPECT_EQ(last.window, (Window{64, 48, 16, 8}));
}

TEST(TilePlan, DefaultTileSizeIs256)
{
    TilePlan plan({1000, 600, std::nullopt, std::nullopt}, unet_facts(16, 92));
    EXPECT_EQ(plan.tile_size(), 256);
    EXPECT_EQ(plan.halo_px(), 96);
    EXPECT_EQ(plan.largest_window(), (Window{0, 0, 448, 448}));
    check_plan(plan);
}

TEST(TilePlan, RejectsTileSizeNotMultipleOfStride)
{
    TilePlanRequest r{77, 53, 100, std::nullopt, "run.yaml:7 tile.size"};
    try
    {
        TilePlan plan(r, unet_facts(16, 92));
        FAIL() << "no error";
    }
    catch (const ConfigError& e)
    {
        EXPECT_STREQ(e.what(), "run.yaml:7 tile.size: expected a multiple of 16 (the model's total "
                               "stride), found 100");
    }
}

TEST(TilePlan, ClassifierTilesAreItsInputWithoutHalo)
{
    infer::ModelFacts f;
    f.spatial = false;
    f.fixed_height = 28;
    f.fixed_width = 28;
    f.halo_px = 0;
    TilePlan plan({70, 30, std::nullopt, 16}, f);
    EXPECT_EQ(plan.tile_size(), 28);
    EXPECT_EQ(plan.halo_px(), 0);
    EXPECT_EQ(plan.columns(), 3);
    EXPECT_EQ(plan.rows(), 2);
    EXPECT_EQ(plan.padded_width(), 84);
    const TileTask last = plan.task(5);
    EXPECT_EQ(last.core, (Window{56, 28, 14, 2}));
    EXPECT_EQ(last.window, (Window{56, 28, 28, 28}));
    check_plan(plan);

    EXPECT_THROW(TilePlan({70, 30, 32, std::nullopt}, f), ConfigError);
    f.fixed_width = 14;
    EXPECT_THROW(TilePlan({70, 30, std::nullopt, std::nullopt}, f), ModelError);
}

} // namespace
} // namespace atrous
