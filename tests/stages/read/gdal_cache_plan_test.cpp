// SPDX-License-Identifier: Apache-2.0
// Purpose: the GDAL block cache size from the block layout and the window height, the layout
// text of the plan summary, and the layout read.gdal reports for tiled, striped and VRT inputs.
#include "stages/read/gdal_cache_plan.hpp"
#include "stages/read/make_reader.hpp"
#include "stages/read/synthetic_scene.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gdal.h>
#include <gdal_utils.h>
#include <gtest/gtest.h>

namespace
{

using atrous::BlockLayout;
using atrous::RasterInfo;

constexpr std::int64_t mb = 1024 * 1024;

RasterInfo raster(int width, int bands, BlockLayout layout)
{
    RasterInfo info;
    info.width = width;
    info.height = 100000;
    info.bands = bands;
    info.layout = std::move(layout);
    return info;
}

BlockLayout layout(int bw, int bh, int file_bands, int bytes, bool pixel = true)
{
    BlockLayout l;
    l.block_width = bw;
    l.block_height = bh;
    l.tiled = true;
    l.file_bands = file_bands;
    l.bytes_per_sample = bytes;
    l.pixel_interleaved = pixel;
    return l;
}

TEST(GdalCachePlan, HoldsOneRowOfWindowsAcrossTheRaster)
{
    // Striped, 1 row per strip, 40000 px, uint16, 4 bands pixel-interleaved, windows 1000 rows:
    // 1001 rows x 40000 px x 4 bands x 2 B = 320.3 MB, + 25 % = 400.4 MB.
    const auto striped =
        atrous::plan_gdal_cache(raster(40000, 1, layout(40000, 1, 4, 2)), 1000, std::nullopt);
    EXPECT_EQ(striped.bytes, (1001LL * 40000 * 4 * 2) * 5 / 4);
    EXPECT_NE(striped.why.find("1001 rows x 40000 px x 4 bands x 2 B"), std::string::npos)
        << striped.why;
    // Tiled 256, band-interleaved: only the selected band is decoded; 592 rows -> 3 + 1 block
    // rows; 40000 px -> 157 blocks = 40192 px; 1024 x 40192 x 1 B = 39.25 MB -> the 64 MB floor.
    const auto tiled = atrous::plan_gdal_cache(raster(40000, 1, layout(256, 256, 13, 1, false)),
                                               592, std::nullopt);
    EXPECT_EQ(tiled.bytes, 64 * mb);
    EXPECT_NE(tiled.why.find("1024 rows x 40192 px x 1 band x 1 B"), std::string::npos)
        << tiled.why;
    EXPECT_NE(tiled.why.find("at least 64 MB"), std::string::npos);
    // 13 bands float32 pixel-interleaved over 100000 px: capped at 1 GB.
    const auto big =
        atrous::plan_gdal_cache(raster(100000, 3, layout(512, 512, 13, 4)), 1024, std::nullopt);
    EXPECT_EQ(big.bytes, 1024 * mb);
    EXPECT_NE(big.why.find("capped"), std::string::npos);
    // The configuration wins.
    const auto configured =
        atrous::plan_gdal_cache(raster(40000, 1, layout(40000, 1, 4, 2)), 1000, 17);
    EXPECT_EQ(configured.bytes, 17 * mb);
    EXPECT_EQ(configured.why, "runtime.gdal_cache_mb");
}

TEST(GdalCachePlan, LayoutText)
{
    BlockLayout l = layout(256, 256, 1, 1);
    l.compression = "DEFLATE";
    l.data_type = "Byte";
    EXPECT_EQ(atrous::block_layout_text(l), "tiled 256 x 256, DEFLATE, Byte");
    l.tiled = false;
    l.block_width = 8192;
    l.block_height = 1;
    l.file_bands = 4;
    EXPECT_EQ(atrous::block_layout_text(l),
              "striped (1 row per strip), DEFLATE, Byte x 4 bands pixel-interleaved");
    l.source_files = 9;
    l.tiled = true;
    l.block_width = l.block_height = 32;
    l.file_bands = 1;
    EXPECT_EQ(atrous::block_layout_text(l),
              "VRT of 9 files, the first tiled 32 x 32, DEFLATE, Byte");
    EXPECT_EQ(atrous::block_layout_text(BlockLayout{}), "block layout unknown");
}

/// Translates `src` with gdal_translate-style arguments.
void translate(const std::filesystem::path& src, const std::filesystem::path& dst,
               std::vector<const char*> argv)
{
    argv.push_back(nullptr);
    GDALTranslateOptions* o = GDALTranslateOptionsNew(const_cast<char**>(argv.data()), nullptr);
    GDALDatasetH in = GDALOpen(src.c_str(), GA_ReadOnly);
    ASSERT_NE(in, nullptr);
    GDALDatasetH out = GDALTranslate(dst.c_str(), in, o, nullptr);
    ASSERT_NE(out, nullptr);
    GDALClose(out);
    GDALClose(in);
    GDALTranslateOptionsFree(o);
}

TEST(GdalReader, ReportsTheBlockLayoutOfTiledStripedAndVrtInputs)
{
    atrous::test::ScratchDir dir;
    atrous::SyntheticSceneOptions o;
    o.width = 70;
    o.height = 50;
    o.bands = 2;
    o.data_type = atrous::SceneDataType::uint16;
    o.tile_size = 16;
    atrous::write_synthetic_scene(o, dir / "tiled.tif", dir / "truth.tif");
    translate(dir / "tiled.tif", dir / "striped.tif",
              {"-co", "TILED=NO", "-co", "BLOCKYSIZE=3", "-co", "INTERLEAVE=BAND"});
    translate(dir / "tiled.tif", dir / "mosaic.vrt", {"-of", "VRT"});

    const auto info_of = [](const std::filesystem::path& p, std::vector<int> bands)
    {
        atrous::ReadOptions r;
        r.path = p;
        r.bands = std::move(bands);
        auto reader = atrous::make_gdal_reader(r);
        reader->prepare(atrous::RunContext{});
        return reader->info();
    };
    const RasterInfo tiled = info_of(dir / "tiled.tif", {});
    EXPECT_EQ(atrous::block_layout_text(tiled.layout),
              "tiled 16 x 16, DEFLATE, UInt16 x 2 bands pixel-interleaved");
    EXPECT_EQ(tiled.layout.bytes_per_sample, 2);
    EXPECT_EQ(tiled.mask, "");
    const RasterInfo striped = info_of(dir / "striped.tif", {2});
    EXPECT_EQ(atrous::block_layout_text(striped.layout),
              "striped (3 rows per strip), none, UInt16 x 2 bands band-interleaved");
    const RasterInfo vrt = info_of(dir / "mosaic.vrt", {});
    EXPECT_EQ(vrt.driver, "VRT");
    EXPECT_EQ(vrt.layout.source_files, 1);
    EXPECT_EQ(atrous::block_layout_text(vrt.layout),
              "VRT of 1 file, the first tiled 16 x 16, DEFLATE, UInt16 x 2 bands "
              "pixel-interleaved");
}

} // namespace
