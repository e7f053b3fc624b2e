// SPDX-License-Identifier: Apache-2.0
// Purpose: read.gdal on generated GeoTIFFs: windows, padding, bands, nodata, normalization,
// thread safety, and the error messages of bad inputs.
#include "stages/error.hpp"
#include "stages/read/gdal_error.hpp"
#include "stages/read/gdal_reader.hpp"
#include "stages/read/make_reader.hpp"
#include "stages/read/synthetic_scene.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gdal.h>
#include <gtest/gtest.h>
#include <oneapi/tbb/parallel_for.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>

namespace
{

using atrous::InputError;
using atrous::ReadOptions;
using atrous::RunContext;
using atrous::TileTask;
using atrous::Window;
using atrous::test::ScratchDir;

constexpr int width = 37; // odd sizes on purpose
constexpr int height = 29;

/// 37 x 29, 3 bands uint16, nodata 0 over x 4..9, y 2..7.
std::filesystem::path three_band_scene(const ScratchDir& dir)
{
    atrous::SyntheticSceneOptions o;
    o.width = width;
    o.height = height;
    o.bands = 3;
    o.data_type = atrous::SceneDataType::uint16;
    o.blob_density = 3e-3;
    o.nodata_region = atrous::SceneRect{4, 2, 6, 6};
    o.nodata_value = 0;
    o.tile_size = 16;
    atrous::write_synthetic_scene(o, dir / "scene.tif", dir / "truth.tif");
    return dir / "scene.tif";
}

/// Band `band` (1-based) of the whole file, straight from GDAL.
std::vector<float> band_values(const std::filesystem::path& path, int band)
{
    GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
    EXPECT_NE(ds, nullptr);
    const int w = GDALGetRasterXSize(ds);
    const int h = GDALGetRasterYSize(ds);
    std::vector<float> data(static_cast<std::size_t>(w) * h);
    EXPECT_EQ(GDALRasterIO(GDALGetRasterBand(ds, band), GF_Read, 0, 0, w, h, data.data(), w, h,
                           GDT_Float32, 0, 0),
              CE_None);
    GDALClose(ds);
    return data;
}

TileTask task(Window core, Window window)
{
    TileTask t;
    t.core = core;
    t.window = window;
    return t;
}

std::string message_of(const std::function<void()>& f)
{
    try
    {
        f();
    }
    catch (const InputError& e)
    {
        return e.what();
    }
    return "no InputError";
}

bool in_hole(int x, int y)
{
    return x >= 4 && x < 10 && y >= 2 && y < 8;
}

TEST(GdalReader, InfoReportsSizeBandsGeoreferenceAndNodata)
{
    ScratchDir dir;
    ReadOptions o;
    o.path = three_band_scene(dir);
    auto reader = atrous::make_gdal_reader(o);
    EXPECT_EQ(reader->name(), "read.gdal");
    reader->prepare(RunContext{});
    const atrous::RasterInfo info = reader->info();
    EXPECT_EQ(info.driver, "GTiff");
    EXPECT_EQ(info.width, width);
    EXPECT_EQ(info.height, height);
    EXPECT_EQ(info.bands, 3);
    ASSERT_TRUE(info.geotransform.has_value());
    EXPECT_EQ((*info.geotransform)[0], 500000.0);
    EXPECT_EQ((*info.geotransform)[1], 0.5);
    EXPECT_NE(info.crs_wkt.find("UTM zone 33N"), std::string::npos);
    ASSERT_TRUE(info.nodata.has_value());
    EXPECT_EQ(*info.nodata, 0.0);

    o.nodata = 7.0; // the config wins over the file
    o.bands = {2};
    auto selected = atrous::make_gdal_reader(o);
    selected->prepare(RunContext{});
    EXPECT_EQ(selected->info().bands, 1);
    EXPECT_EQ(*selected->info().nodata, 7.0);
}

TEST(GdalReader, WholeImageMatchesGdalWithNormalizationAndNodata)
{
    ScratchDir dir;
    ReadOptions o;
    o.path = three_band_scene(dir);
    o.normalize = {{0.5, 1.0}, {0.25, -2.0}, {1.0 / 256.0, 0.0}};
    atrous::GdalReader reader(o);
    reader.prepare(RunContext{});
    const Window all{0, 0, width, height};
    const atrous::RasterTile tile = reader.read(task(all, all));
    ASSERT_EQ(tile.pixels.shape(), (atrous::ImageShape{height, width, 3}));
    ASSERT_EQ(tile.valid.size(), static_cast<std::size_t>(width * height));
    EXPECT_FALSE(tile.empty);
    for (int b = 0; b < 3; ++b)
    {
        const std::vector<float> want = band_values(o.path, b + 1);
        for (int y = 0; y < height; ++y)
        {
            for (int x = 0; x < width; ++x)
            {
                const std::size_t i = static_cast<std::size_t>(y) * width + x;
                if (in_hole(x, y))
                {
                    ASSERT_EQ(tile.valid[i], 0) << x << "," << y;
                    ASSERT_EQ(tile.pixels.at(y, x, b), 0.0f);
                    continue;
                }
                ASSERT_EQ(tile.valid[i], 1) << x << "," << y;
                const double n = want[i] * o.normalize[b].scale + o.normalize[b].offset;
                ASSERT_FLOAT_EQ(tile.pixels.at(y, x, b), static_cast<float>(n))
                    << "band " << b + 1 << " at " << x << "," << y;
            }
        }
    }
}

TEST(GdalReader, BandSelectionOrderAndSingleNormalization)
{
    ScratchDir dir;
    ReadOptions o;
    o.path = three_band_scene(dir);
    o.bands = {3, 1};
    o.normalize = {{2.0, 0.0}}; // one entry applies to every band
    atrous::GdalReader reader(o);
    reader.prepare(RunContext{});
    const Window w{8, 8, 16, 12};
    const atrous::RasterTile tile = reader.read(task(w, w));
    const std::vector<float> b3 = band_values(o.path, 3);
    const std::vector<float> b1 = band_values(o.path, 1);
    for (int y = 0; y < w.height; ++y)
    {
        for (int x = 0; x < w.width; ++x)
        {
            const std::size_t i = static_cast<std::size_t>(y + w.y) * width + (x + w.x);
            ASSERT_EQ(tile.pixels.at(y, x, 0), 2.0f * b3[i]);
            ASSERT_EQ(tile.pixels.at(y, x, 1), 2.0f * b1[i]);
        }
    }
}

TEST(GdalReader, WindowBeyondBottomRightIsZeroPadded)
{
    ScratchDir dir;
    ReadOptions o;
    o.path = three_band_scene(dir);
    atrous::GdalReader reader(o);
    reader.prepare(RunContext{});
    // Core 32..36 x 24..28 (clipped); window padded to 16 x 16 past the image.
    const atrous::RasterTile tile = reader.read(task({32, 24, 5, 5}, {24, 16, 16, 16}));
    ASSERT_EQ(tile.pixels.shape(), (atrous::ImageShape{16, 16, 3}));
    const std::vector<float> b2 = band_values(o.path, 2);
    for (int y = 0; y < 16; ++y)
    {
        for (int x = 0; x < 16; ++x)
        {
            const int ix = 24 + x;
            const int iy = 16 + y;
            const std::uint8_t valid = tile.valid[static_cast<std::size_t>(y) * 16 + x];
            if (ix >= width || iy >= height)
            {
                ASSERT_EQ(valid, 0) << x << "," << y;
                for (int b = 0; b < 3; ++b)
                    ASSERT_EQ(tile.pixels.at(y, x, b), 0.0f);
            }
            else
            {
                ASSERT_EQ(valid, 1);
                ASSERT_EQ(tile.pixels.at(y, x, 1), b2[static_cast<std::size_t>(iy) * width + ix]);
            }
        }
    }
    EXPECT_FALSE(tile.empty);
}

TEST(GdalReader, CoreInsideNodataIsEmpty)
{
    ScratchDir dir;
    ReadOptions o;
    o.path = three_band_scene(dir);
    atrous::GdalReader reader(o);
    reader.prepare(RunContext{});
    // The core lies in the nodata hole; the window around it has valid pixels.
    const atrous::RasterTile hole = reader.read(task({5, 3, 4, 4}, {0, 0, 16, 16}));
    EXPECT_TRUE(hole.empty);
    const atrous::RasterTile next = reader.read(task({10, 3, 4, 4}, {0, 0, 16, 16}));
    EXPECT_FALSE(next.empty);
}

TEST(GdalReader, NonFiniteFloatsAreNodataWithoutANodataValue)
{
    ScratchDir dir;
    const std::filesystem::path path = dir / "float.tif";
    atrous::gdal_register_once();
    GDALDatasetH ds =
        GDALCreate(GDALGetDriverByName("GTiff"), path.c_str(), 5, 4, 1, GDT_Float32, nullptr);
    ASSERT_NE(ds, nullptr);
    std::vector<float> values(20, 3.0f);
    values[6] = std::numeric_limits<float>::quiet_NaN();
    values[13] = std::numeric_limits<float>::infinity();
    ASSERT_EQ(GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Write, 0, 0, 5, 4, values.data(), 5, 4,
                           GDT_Float32, 0, 0),
              CE_None);
    GDALClose(ds);

    ReadOptions o;
    o.path = path;
    atrous::GdalReader reader(o);
    reader.prepare(RunContext{});
    EXPECT_FALSE(reader.info().nodata.has_value());
    EXPECT_FALSE(reader.info().geotransform.has_value());
    const atrous::RasterTile tile = reader.read(task({0, 0, 5, 4}, {0, 0, 8, 4}));
    for (int i = 0; i < 20; ++i)
    {
        const int x = i % 5, y = i / 5;
        const bool bad = i == 6 || i == 13;
        EXPECT_EQ(tile.valid[static_cast<std::size_t>(y) * 8 + x], bad ? 0 : 1) << i;
        EXPECT_EQ(tile.pixels.at(y, x, 0), bad ? 0.0f : 3.0f) << i;
    }
}

TEST(GdalReader, ConcurrentReadsMatchSerialReads)
{
    ScratchDir dir;
    ReadOptions o;
    o.path = three_band_scene(dir);
    atrous::GdalReader reader(o);
    reader.prepare(RunContext{});
    std::vector<TileTask> tasks;
    for (int y = 0; y < height; y += 8)
        for (int x = 0; x < width; x += 8)
            tasks.push_back(task({x, y, 8, 8}, {std::max(0, x - 4), std::max(0, y - 4), 16, 16}));
    std::vector<atrous::RasterTile> serial;
    for (const TileTask& t : tasks)
        serial.push_back(reader.read(t));
    std::vector<atrous::RasterTile> parallel(tasks.size());
    tbb::parallel_for(std::size_t{0}, tasks.size(),
                      [&](std::size_t i) { parallel[i] = reader.read(tasks[i]); });
    for (std::size_t i = 0; i < tasks.size(); ++i)
    {
        ASSERT_EQ(std::vector<float>(serial[i].pixels.data(),
                                     serial[i].pixels.data() + serial[i].pixels.size()),
                  std::vector<float>(parallel[i].pixels.data(),
                                     parallel[i].pixels.data() + parallel[i].pixels.size()));
        ASSERT_EQ(serial[i].valid, parallel[i].valid);
    }
    reader.finish(RunContext{});
}

TEST(GdalReader, MissingFileNamesThePath)
{
    ReadOptions o;
    o.path = "/nonexistent/scene.tif";
    auto reader = atrous::make_gdal_reader(o);
    EXPECT_EQ(message_of([&] { reader->prepare(RunContext{}); }),
              "read.gdal: /nonexistent/scene.tif: no such file");
}

TEST(GdalReader, TextFileIsNotARaster)
{
    ScratchDir dir;
    const auto path = dir / "notes.tif";
    std::ofstream(path) << "this is not an image\n";
    ReadOptions o;
    o.path = path;
    atrous::GdalReader reader(o);
    const std::string message = message_of([&] { reader.prepare(RunContext{}); });
    EXPECT_EQ(message.rfind("read.gdal: " + path.string() + ": ", 0), 0u) << message;
    EXPECT_NE(message.find("not recognized as a supported file format"), std::string::npos)
        << message;
}

TEST(GdalReader, RejectsBandBeyondCount)
{
    ScratchDir dir;
    ReadOptions o;
    o.path = three_band_scene(dir);
    o.bands = {1, 4};
    atrous::GdalReader reader(o);
    EXPECT_EQ(message_of([&] { reader.prepare(RunContext{}); }),
              "read.gdal: " + o.path.string() + ": band 4 requested, the file has 3");
}

TEST(GdalReader, RejectsNormalizationCountMismatch)
{
    ScratchDir dir;
    ReadOptions o;
    o.path = three_band_scene(dir);
    o.normalize = {{1, 0}, {1, 0}};
    atrous::GdalReader reader(o);
    try
    {
        reader.prepare(RunContext{});
        FAIL() << "no ConfigError";
    }
    catch (const atrous::ConfigError& e)
    {
        EXPECT_STREQ(e.what(), "read.gdal: input.normalize: 2 entries given, 1 or 3 (one per "
                               "band) expected");
    }
}

/// A scene whose pixels can only be read wrongly: tiles of 16 x 16, deflate.
std::filesystem::path damaged_scene(const ScratchDir& dir, bool truncate)
{
    atrous::SyntheticSceneOptions o;
    o.width = 64;
    o.height = 64;
    o.tile_size = 16;
    atrous::write_synthetic_scene(o, dir / "d.tif", dir / "d_truth.tif");
    const auto path = dir / "d.tif";
    if (truncate)
    {
        std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
        return path;
    }
    // Overwrite the first tile's compressed bytes with garbage: the header stays intact.
    GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
    const char* offset = GDALGetMetadataItem(GDALGetRasterBand(ds, 1), "BLOCK_OFFSET_0_0", "TIFF");
    const char* size = GDALGetMetadataItem(GDALGetRasterBand(ds, 1), "BLOCK_SIZE_0_0", "TIFF");
    EXPECT_NE(offset, nullptr);
    EXPECT_NE(size, nullptr);
    const long start = std::stol(offset);
    const long bytes = std::stol(size);
    GDALClose(ds);
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(start);
    for (long i = 0; i < bytes; ++i)
        f.put(static_cast<char>(0xA5 ^ i));
    return path;
}

TEST(GdalReader, CorruptTileIsAnInputError)
{
    ScratchDir dir;
    ReadOptions o;
    o.path = damaged_scene(dir, false);
    atrous::GdalReader reader(o);
    reader.prepare(RunContext{});
    const std::string message = message_of(
        [&] {
            reader.read(task({0, 0, 16, 16}, {0, 0, 16, 16}));
        });
    EXPECT_EQ(
        message.rfind("read.gdal: " + o.path.string() + ": reading window (0,0 16x16) failed: ", 0),
        0u)
        << message;
}

TEST(GdalReader, TruncatedTiffIsAnInputError)
{
    ScratchDir dir;
    ReadOptions o;
    o.path = damaged_scene(dir, true);
    atrous::GdalReader reader(o);
    // Depending on where the cut falls, the header or the pixels are missing.
    const std::string message = message_of(
        [&]
        {
            reader.prepare(RunContext{});
            reader.read(task({0, 0, 64, 64}, {0, 0, 64, 64}));
        });
    EXPECT_EQ(message.rfind("read.gdal: " + o.path.string() + ": ", 0), 0u) << message;
}

} // namespace
