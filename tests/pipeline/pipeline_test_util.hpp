// SPDX-License-Identifier: Apache-2.0
// Purpose: helpers of the pipeline tests: a small GeoTIFF written with GDAL, and an in-memory
// writer that assembles the output blocks into whole-image arrays.
#pragma once

#include "stages/error.hpp"
#include "stages/stage.hpp"
#include "stages/write/write_options.hpp"

#include <gdal.h>

#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace atrous::test
{

/// Band-interleaved float32 pixels: value(b, y, x) = data[(b * height + y) * width + x].
struct TestRaster
{
    int width = 0;
    int height = 0;
    int bands = 1;
    std::vector<float> data;
    std::optional<double> nodata;

    float at(int b, int y, int x) const
    {
        return data[(static_cast<std::size_t>(b) * height + y) * width + x];
    }
};

/// Uniform noise in [0, 1), fixed seed; an optional nodata rectangle (all bands = nodata).
inline TestRaster random_raster(int width, int height, int bands, unsigned seed)
{
    TestRaster r{width, height, bands, {}, std::nullopt};
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    r.data.resize(static_cast<std::size_t>(width) * height * bands);
    for (auto& v : r.data)
        v = u(rng);
    return r;
}

/// Writes a float32 GeoTIFF (UTM 33N, 0.5 m pixels) of `r`.
inline void write_geotiff(const TestRaster& r, const std::filesystem::path& path)
{
    GDALAllRegister();
    GDALDriverH driver = GDALGetDriverByName("GTiff");
    GDALDatasetH ds =
        GDALCreate(driver, path.c_str(), r.width, r.height, r.bands, GDT_Float32, nullptr);
    if (!ds)
        throw Error("test", "cannot create " + path.string());
    double gt[6] = {500000.0, 0.5, 0.0, 5500000.0, 0.0, -0.5};
    GDALSetGeoTransform(ds, gt);
    for (int b = 0; b < r.bands; ++b)
    {
        GDALRasterBandH band = GDALGetRasterBand(ds, b + 1);
        if (r.nodata)
            GDALSetRasterNoDataValue(band, *r.nodata);
        if (GDALRasterIO(band, GF_Write, 0, 0, r.width, r.height,
                         const_cast<float*>(r.data.data()) +
                             static_cast<std::size_t>(b) * r.width * r.height,
                         r.width, r.height, GDT_Float32, 0, 0) != CE_None)
            throw Error("test", "cannot write " + path.string());
    }
    GDALClose(ds);
}

/// Collects blocks into planar C x H x W probabilities and an H x W valid mask, checking that
/// blocks never overlap and every pixel is written exactly once.
class MemoryWriter final : public Writer
{
public:
    MemoryWriter(const WriteOptions& options, const OutputLayout& layout)
        : m_options(options), m_layout(layout)
    {
        const int w = layout.spatial ? layout.image_width : layout.columns;
        const int h = layout.spatial ? layout.image_height : layout.rows;
        m_plane = static_cast<std::size_t>(w) * h;
        probabilities.assign(m_plane * layout.channels, -1.0f);
        valid.assign(m_plane, 0);
        writes.assign(m_plane, 0);
    }
    std::string_view name() const override { return "write.memory"; }
    void write(const OutputBlock& b) override
    {
        std::lock_guard lock(m_mutex);
        const int w = m_layout.spatial ? m_layout.image_width : m_layout.columns;
        const std::size_t region = static_cast<std::size_t>(b.region.width) * b.region.height;
        for (int y = 0; y < b.region.height; ++y)
            for (int x = 0; x < b.region.width; ++x)
            {
                const std::size_t o = static_cast<std::size_t>(b.region.y + y) * w + b.region.x + x;
                const std::size_t i = static_cast<std::size_t>(y) * b.region.width + x;
                ++writes[o];
                valid[o] = b.valid[i];
                for (int c = 0; c < b.channels; ++c)
                    probabilities[c * m_plane + o] = b.probabilities[c * region + i];
            }
        tiles += static_cast<long long>(b.tiles.size());
    }
    std::vector<TileId> done_tiles() const override { return {}; }

    float probability(int c, int y, int x) const
    {
        const int w = m_layout.spatial ? m_layout.image_width : m_layout.columns;
        return probabilities[c * m_plane + static_cast<std::size_t>(y) * w + x];
    }

    WriteOptions m_options;
    OutputLayout m_layout;
    std::size_t m_plane = 0;
    std::vector<float> probabilities;
    std::vector<std::uint8_t> valid;
    std::vector<int> writes;
    long long tiles = 0;
    std::mutex m_mutex;
};

/// A writer the runner may own and destroy, forwarding to one the test keeps.
class WriterProxy final : public Writer
{
public:
    explicit WriterProxy(Writer& target) : m_target(target) {}
    std::string_view name() const override { return m_target.name(); }
    void prepare(const RunContext& c) override { m_target.prepare(c); }
    void write(const OutputBlock& b) override { m_target.write(b); }
    void finish(const RunContext& c) override { m_target.finish(c); }
    std::vector<TileId> done_tiles() const override { return m_target.done_tiles(); }

private:
    Writer& m_target;
};

} // namespace atrous::test
