// SPDX-License-Identifier: Apache-2.0
// Purpose: the synthetic scene is deterministic, georeferenced, and its blobs match its truth.
#include "stages/read/gdal_error.hpp"
#include "stages/read/synthetic_scene.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gdal.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace
{

using atrous::SceneDataType;
using atrous::SyntheticSceneOptions;
using atrous::test::ScratchDir;

/// Every band of a raster, band-sequential, as doubles.
std::vector<double> read_all(const std::filesystem::path& path, int* bands = nullptr)
{
    atrous::gdal_register_once();
    GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
    EXPECT_NE(ds, nullptr) << path;
    if (ds == nullptr)
        return {};
    const int w = GDALGetRasterXSize(ds);
    const int h = GDALGetRasterYSize(ds);
    const int n = GDALGetRasterCount(ds);
    if (bands != nullptr)
        *bands = n;
    std::vector<double> data(static_cast<std::size_t>(w) * h * n);
    EXPECT_EQ(GDALDatasetRasterIO(ds, GF_Read, 0, 0, w, h, data.data(), w, h, GDT_Float64, n,
                                  nullptr, 0, 0, 0),
              CE_None);
    GDALClose(ds);
    return data;
}

SyntheticSceneOptions small()
{
    SyntheticSceneOptions o;
    o.width = 211;
    o.height = 157;
    o.blob_density = 1e-3;
    o.seed = 7;
    o.tile_size = 64;
    o.rows_per_block = 64;
    return o;
}

TEST(SyntheticScene, SameOptionsSamePixelsWhateverTheRowBlocks)
{
    ScratchDir dir;
    SyntheticSceneOptions o = small();
    atrous::write_synthetic_scene(o, dir / "a.tif", dir / "a_truth.tif");
    o.rows_per_block = 16; // generated in other steps: same pixels
    atrous::write_synthetic_scene(o, dir / "b.tif", dir / "b_truth.tif");
    EXPECT_EQ(read_all(dir / "a.tif"), read_all(dir / "b.tif"));
    EXPECT_EQ(read_all(dir / "a_truth.tif"), read_all(dir / "b_truth.tif"));
    o.seed = 8;
    atrous::write_synthetic_scene(o, dir / "c.tif", dir / "c_truth.tif");
    EXPECT_NE(read_all(dir / "a.tif"), read_all(dir / "c.tif"));
}

TEST(SyntheticScene, BlobsAreBrighterThanBackgroundAndMatchTruth)
{
    ScratchDir dir;
    const SyntheticSceneOptions o = small();
    atrous::write_synthetic_scene(o, dir / "s.tif", dir / "t.tif");
    const std::vector<double> image = read_all(dir / "s.tif");
    const std::vector<double> truth = read_all(dir / "t.tif");
    ASSERT_EQ(image.size(), truth.size());
    double in = 0, out = 0;
    std::size_t n_in = 0, n_out = 0;
    for (std::size_t i = 0; i < image.size(); ++i)
    {
        ASSERT_TRUE(truth[i] == 0.0 || truth[i] == 1.0);
        (truth[i] != 0 ? in : out) += image[i];
        ++(truth[i] != 0 ? n_in : n_out);
    }
    ASSERT_GT(n_in, image.size() / 50) << "too few blob pixels";
    ASSERT_GT(n_out, image.size() / 3) << "too few background pixels";
    EXPECT_GT(in / n_in, out / n_out + 60.0);
}

TEST(SyntheticScene, GeoreferencedTiledThreeBandsWithNodataRegion)
{
    ScratchDir dir;
    SyntheticSceneOptions o = small();
    o.bands = 3;
    o.data_type = SceneDataType::uint16;
    o.nodata_region = atrous::SceneRect{10, 20, 30, 40};
    o.nodata_value = 0;
    atrous::write_synthetic_scene(o, dir / "s.tif", dir / "t.tif");

    GDALDatasetH ds = GDALOpen((dir / "s.tif").c_str(), GA_ReadOnly);
    ASSERT_NE(ds, nullptr);
    EXPECT_EQ(GDALGetRasterXSize(ds), 211);
    EXPECT_EQ(GDALGetRasterYSize(ds), 157);
    EXPECT_EQ(GDALGetRasterCount(ds), 3);
    EXPECT_EQ(GDALGetRasterDataType(GDALGetRasterBand(ds, 1)), GDT_UInt16);
    int has = 0;
    EXPECT_EQ(GDALGetRasterNoDataValue(GDALGetRasterBand(ds, 3), &has), 0.0);
    EXPECT_EQ(has, 1);
    int bx = 0, by = 0;
    GDALGetBlockSize(GDALGetRasterBand(ds, 1), &bx, &by);
    EXPECT_EQ(bx, 64);
    EXPECT_EQ(by, 64);
    double gt[6];
    ASSERT_EQ(GDALGetGeoTransform(ds, gt), CE_None);
    EXPECT_EQ(gt[0], 500000.0);
    EXPECT_EQ(gt[1], 0.5);
    EXPECT_EQ(gt[5], -0.5);
    EXPECT_NE(std::string(GDALGetProjectionRef(ds)).find("32633"), std::string::npos);
    const char* compression = GDALGetMetadataItem(ds, "COMPRESSION", "IMAGE_STRUCTURE");
    ASSERT_NE(compression, nullptr);
    EXPECT_STREQ(compression, "DEFLATE");
    GDALClose(ds);

    const std::vector<double> image = read_all(dir / "s.tif");
    const std::size_t plane = 211 * 157;
    for (int y = 0; y < 157; ++y)
    {
        for (int x = 0; x < 211; ++x)
        {
            const bool hole = x >= 10 && x < 40 && y >= 20 && y < 60;
            for (int b = 0; b < 3; ++b)
            {
                const double v = image[b * plane + static_cast<std::size_t>(y) * 211 + x];
                if (hole)
                    ASSERT_EQ(v, 0.0) << x << "," << y;
                else
                    ASSERT_NE(v, 0.0) << "valid pixel equals nodata at " << x << "," << y;
            }
        }
    }
}

} // namespace
