// SPDX-License-Identifier: Apache-2.0
// Purpose: stitch.crop reassembles a known field exactly, once per pixel; classifier cells;
// empty tiles; inconsistent predictions are rejected.
#include "stages/error.hpp"
#include "stages/stitch/crop_stitcher.hpp"
#include "stages/stitch/make_stitcher.hpp"
#include "tests/stages/stitch/stitch_fixture.hpp"

#include <gtest/gtest.h>

namespace
{

using namespace atrous;

float field(int c, int x, int y)
{
    return static_cast<float>(c * 10000 + y * 100 + x);
}

TEST(CropStitcher, ReassemblesAKnownFieldExactly)
{
    const StitchGeometry g = test::grid(37, 29, 16, 5, 2);
    auto stitcher = make_stitcher(StitchOptions{StitchMode::crop}, g);
    EXPECT_EQ(stitcher->name(), "stitch.crop");
    std::vector<float> out(2 * 37 * 29, -1.0f);
    std::vector<int> hits(37 * 29, 0);
    for (int row = 0; row < g.rows; ++row)
    {
        for (int col = 0; col < g.columns; ++col)
        {
            const TileTask t = test::tile_task(g, row, col);
            const std::vector<OutputBlock> blocks = stitcher->add(test::predict(g, t, field));
            ASSERT_EQ(blocks.size(), 1u);
            const OutputBlock& b = blocks[0];
            EXPECT_EQ(b.region, t.core);
            EXPECT_EQ(b.tiles, std::vector<TileId>{t.id});
            ASSERT_EQ(b.channels, 2);
            const std::size_t plane = static_cast<std::size_t>(b.region.width) * b.region.height;
            ASSERT_EQ(b.probabilities.size(), 2 * plane);
            for (int y = 0; y < b.region.height; ++y)
            {
                for (int x = 0; x < b.region.width; ++x)
                {
                    const std::size_t o = static_cast<std::size_t>(y) * b.region.width + x;
                    const int ix = b.region.x + x, iy = b.region.y + y;
                    ASSERT_EQ(b.valid[o], 1);
                    ++hits[static_cast<std::size_t>(iy) * 37 + ix];
                    for (int c = 0; c < 2; ++c)
                        out[(c * 29 + iy) * 37 + ix] = b.probabilities[c * plane + o];
                }
            }
        }
    }
    for (int c = 0; c < 2; ++c)
        for (int y = 0; y < 29; ++y)
            for (int x = 0; x < 37; ++x)
                ASSERT_EQ(out[(c * 29 + y) * 37 + x], field(c, x, y)) << c << " " << x << "," << y;
    for (const int h : hits)
        ASSERT_EQ(h, 1);
}

TEST(CropStitcher, KeepsNodataOfTheWindow)
{
    const StitchGeometry g = test::grid(20, 20, 10, 2, 1);
    CropStitcher stitcher(g);
    const TileTask t = test::tile_task(g, 0, 1);
    Prediction p = test::predict(g, t, field);
    // Pixel (12, 3) of the image is nodata.
    p.valid[static_cast<std::size_t>(3 - t.window.y) * t.window.width + (12 - t.window.x)] = 0;
    const OutputBlock b = stitcher.add(std::move(p)).at(0);
    const std::size_t o = 3 * 10 + 2;
    EXPECT_EQ(b.valid[o], 0);
    EXPECT_EQ(b.probabilities[o], 0.0f);
    EXPECT_EQ(b.valid[o + 1], 1);
}

TEST(CropStitcher, EmptyTileIsANodataCore)
{
    const StitchGeometry g = test::grid(20, 20, 10, 2, 3);
    CropStitcher stitcher(g);
    Prediction p;
    p.task = test::tile_task(g, 1, 1);
    p.empty = true; // never inferred: no tensor
    const OutputBlock b = stitcher.add(std::move(p)).at(0);
    EXPECT_EQ(b.region, (Window{10, 10, 10, 10}));
    EXPECT_EQ(b.probabilities, std::vector<float>(300, 0.0f));
    EXPECT_EQ(b.valid, std::vector<std::uint8_t>(100, 0));
}

TEST(CropStitcher, ClassifierTileIsOneCell)
{
    StitchGeometry g = test::grid(40, 30, 10, 0, 3);
    g.spatial = false;
    auto stitcher = make_stitcher(StitchOptions{StitchMode::crop}, g);
    Prediction p;
    p.task = test::tile_task(g, 2, 3);
    p.probabilities = Image(ImageShape{1, 1, 3});
    p.probabilities.at(0, 0, 1) = 0.75f;
    const OutputBlock b = stitcher->add(std::move(p)).at(0);
    EXPECT_EQ(b.region, (Window{3, 2, 1, 1}));
    EXPECT_EQ(b.probabilities, (std::vector<float>{0.0f, 0.75f, 0.0f}));
    EXPECT_EQ(b.valid, std::vector<std::uint8_t>{1});
    EXPECT_EQ(b.tiles, std::vector<TileId>{11});
}

TEST(CropStitcher, RejectsAPredictionOfTheWrongShape)
{
    const StitchGeometry g = test::grid(20, 20, 10, 2, 2);
    CropStitcher stitcher(g);
    const TileTask t = test::tile_task(g, 0, 0);
    Prediction p = test::predict(g, t, field);
    p.probabilities = Image(ImageShape{t.window.height, t.window.width, 1});
    try
    {
        stitcher.add(std::move(p));
        FAIL() << "no error";
    }
    catch (const Error& e)
    {
        EXPECT_STREQ(e.what(),
                     "stitch.crop: tile 0: prediction (12,12,2) expected, (12,12,1) found");
    }
}

TEST(CropStitcher, RejectsAGridThatDoesNotCoverTheImage)
{
    StitchGeometry g = test::grid(20, 20, 10, 2, 2);
    g.columns = 1;
    EXPECT_THROW(CropStitcher{g}, Error);
}

} // namespace

TEST(CropStitcher, ResumeNeedsTheTilesNotDone)
{
    const StitchGeometry g = test::grid(40, 30, 10, 4, 1);
    CropStitcher stitcher(g);
    std::vector<std::uint8_t> done(static_cast<std::size_t>(g.columns * g.rows), 1);
    done[0] = done[6] = done[11] = 0;
    EXPECT_EQ(stitcher.resume(done), (std::vector<TileId>{0, 6, 11}));
}
