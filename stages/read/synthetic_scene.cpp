// SPDX-License-Identifier: Apache-2.0
// Purpose: deterministic nuclei-like scene written block of rows by block of rows with GDAL.
#include "synthetic_scene.hpp"

#include "platform/gdal_dataset.hpp"
#include "stages/error.hpp"
#include "stages/read/gdal_error.hpp"

#include <cpl_string.h>
#include <gdal.h>
#include <ogr_srs_api.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <string>
#include <vector>

namespace atrous
{

namespace
{

constexpr const char* where = "read.synthetic";

struct Blob
{
    double cx, cy; // centre, pixels
    double a, b;   // semi-axes, pixels
    double cos_t, sin_t;
    double amplitude;   // brightness above background
    int x0, y0, x1, y1; // bounding box, inclusive-exclusive
};

std::vector<Blob> place_blobs(const SyntheticSceneOptions& o)
{
    std::mt19937 rng(o.seed);
    std::uniform_real_distribution<double> ux(0.0, o.width);
    std::uniform_real_distribution<double> uy(0.0, o.height);
    std::uniform_real_distribution<double> radius(6.0, 14.0);
    std::uniform_real_distribution<double> angle(0.0, std::numbers::pi);
    std::uniform_real_distribution<double> amp(110.0, 170.0);
    const auto count = static_cast<long long>(std::llround(o.blob_density * o.width * o.height));
    std::vector<Blob> blobs;
    blobs.reserve(static_cast<std::size_t>(std::max(count, 0LL)));
    for (long long i = 0; i < count; ++i)
    {
        Blob b{};
        b.cx = ux(rng);
        b.cy = uy(rng);
        b.a = radius(rng);
        b.b = radius(rng) * 0.8;
        const double t = angle(rng);
        b.cos_t = std::cos(t);
        b.sin_t = std::sin(t);
        b.amplitude = amp(rng);
        const double r = std::max(b.a, b.b) + 4.0; // soft edge reaches ~3 px beyond the ellipse
        b.x0 = std::max(0, static_cast<int>(std::floor(b.cx - r)));
        b.y0 = std::max(0, static_cast<int>(std::floor(b.cy - r)));
        b.x1 = std::min(o.width, static_cast<int>(std::ceil(b.cx + r)) + 1);
        b.y1 = std::min(o.height, static_cast<int>(std::ceil(b.cy + r)) + 1);
        blobs.push_back(b);
    }
    return blobs;
}

/// Stateless per-pixel noise in [-1, 1] (splitmix64 of seed, x, y, band): independent of the
/// block layout, so the scene does not depend on rows_per_block.
double hash_noise(std::uint32_t seed, int x, int y, int band)
{
    std::uint64_t z = (static_cast<std::uint64_t>(seed) << 40) ^
                      (static_cast<std::uint64_t>(static_cast<std::uint32_t>(y)) << 20) ^
                      static_cast<std::uint64_t>(static_cast<std::uint32_t>(x)) ^
                      (static_cast<std::uint64_t>(band) << 60);
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z = z ^ (z >> 31);
    // Sum of two uniforms: a triangular distribution, close enough to sensor noise.
    const double u1 = static_cast<double>(z & 0xffffffffULL) / 4294967295.0;
    const double u2 = static_cast<double>(z >> 32) / 4294967295.0;
    return u1 + u2 - 1.0;
}

GDALDataType gdal_type(SceneDataType t)
{
    switch (t)
    {
    case SceneDataType::uint8:
        return GDT_Byte;
    case SceneDataType::uint16:
        return GDT_UInt16;
    case SceneDataType::float32:
        return GDT_Float32;
    }
    return GDT_Byte;
}

/// Scene intensity (0..255 scale) to the stored value; never equal to the nodata value.
double to_stored(double v, SceneDataType t, double nodata)
{
    double out = v;
    double max = 255.0;
    if (t == SceneDataType::uint16)
    {
        out = v * 256.0;
        max = 65535.0;
    }
    else if (t == SceneDataType::float32)
    {
        return v / 255.0 == nodata ? v / 255.0 + 1e-3 : v / 255.0;
    }
    out = std::clamp(std::round(out), 0.0, max);
    if (out == nodata)
        out = out < max ? out + 1.0 : out - 1.0;
    return out;
}

class GdalFile
{
public:
    GdalFile(const std::filesystem::path& path, int width, int height, int bands, GDALDataType type,
             int tile)
        : m_path(path.string())
    {
        GDALDriverH driver = GDALGetDriverByName("GTiff");
        if (driver == nullptr)
            throw OutputError(where, m_path + ": GDAL has no GTiff driver");
        const std::string block = std::to_string(tile);
        CPLStringList options;
        options.SetNameValue("TILED", "YES");
        options.SetNameValue("BLOCKXSIZE", block.c_str());
        options.SetNameValue("BLOCKYSIZE", block.c_str());
        options.SetNameValue("COMPRESS", "DEFLATE");
        if (bands > 1)
            options.SetNameValue("INTERLEAVE", "PIXEL");
        GdalErrorCollector errors;
        m_ds.reset(GDALCreate(driver, m_path.c_str(), width, height, bands, type, options.List()));
        if (!m_ds)
            throw OutputError(where, m_path + ": " + errors.message("cannot create"));
    }
    GDALDatasetH get() const { return m_ds.get(); }
    const std::string& path() const { return m_path; }

    /// Flushes and closes; a write error surfacing at close becomes an OutputError.
    void close()
    {
        GdalErrorCollector errors;
        m_ds.reset();
        if (errors.failed())
            throw OutputError(where, m_path + ": " + errors.message("close failed"));
    }

    void write_rows(int y, int rows, int width, int bands, const std::vector<double>& data)
    {
        GdalErrorCollector errors;
        // data is pixel-interleaved: (row, col, band).
        const GSpacing pixel = static_cast<GSpacing>(bands) * sizeof(double);
        const CPLErr err = GDALDatasetRasterIOEx(
            m_ds.get(), GF_Write, 0, y, width, rows, const_cast<double*>(data.data()), width, rows,
            GDT_Float64, bands, nullptr, pixel, pixel * width, sizeof(double), nullptr);
        if (err != CE_None)
            throw OutputError(where, m_path + ": " + errors.message("write failed"));
    }

private:
    std::string m_path;
    gdal::Dataset m_ds;
};

void georeference(GDALDatasetH ds, const std::string& path)
{
    // UTM 33N, 0.5 m pixels, origin somewhere in Central Europe.
    double gt[6] = {500000.0, 0.5, 0.0, 5500000.0, 0.0, -0.5};
    GdalErrorCollector errors;
    OGRSpatialReferenceH srs = OSRNewSpatialReference(nullptr);
    char* wkt = nullptr;
    const bool ok = OSRImportFromEPSG(srs, 32633) == OGRERR_NONE &&
                    OSRExportToWkt(srs, &wkt) == OGRERR_NONE &&
                    GDALSetProjection(ds, wkt) == CE_None && GDALSetGeoTransform(ds, gt) == CE_None;
    CPLFree(wkt);
    OSRDestroySpatialReference(srs);
    if (!ok)
        throw OutputError(where, path + ": cannot georeference: " + errors.message("EPSG:32633"));
}

} // namespace

void write_synthetic_scene(const SyntheticSceneOptions& o, const std::filesystem::path& tif,
                           const std::filesystem::path& truth_tif)
{
    if (o.width <= 0 || o.height <= 0 || o.bands <= 0)
        throw ConfigError(where, "width, height and bands must be positive, got " +
                                     std::to_string(o.width) + " x " + std::to_string(o.height) +
                                     " x " + std::to_string(o.bands));
    gdal_register_once();
    // GeoTIFF tiles are multiples of 16; row blocks are whole tile rows.
    const int tile = std::max(16, (o.tile_size + 15) / 16 * 16);
    const int block_rows = std::max(1, (o.rows_per_block + tile - 1) / tile) * tile;

    GdalFile image(tif, o.width, o.height, o.bands, gdal_type(o.data_type), tile);
    GdalFile truth(truth_tif, o.width, o.height, 1, GDT_Byte, tile);
    georeference(image.get(), image.path());
    georeference(truth.get(), truth.path());
    if (o.nodata_region)
    {
        for (int b = 1; b <= o.bands; ++b)
            GDALSetRasterNoDataValue(GDALGetRasterBand(image.get(), b), o.nodata_value);
    }

    const std::vector<Blob> blobs = place_blobs(o);
    const double phase = static_cast<double>(o.seed % 1000) * 0.01;
    std::vector<double> field;  // blob intensity above background, per pixel of the block
    std::vector<double> pixels; // stored values, (row, col, band)
    std::vector<double> mask;   // truth, (row, col)
    for (int y0 = 0; y0 < o.height; y0 += block_rows)
    {
        const int rows = std::min(block_rows, o.height - y0);
        const std::size_t n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(o.width);
        field.assign(n, 0.0);
        mask.assign(n, 0.0);
        for (const Blob& b : blobs)
        {
            if (b.y1 <= y0 || b.y0 >= y0 + rows)
                continue;
            for (int y = std::max(b.y0, y0); y < std::min(b.y1, y0 + rows); ++y)
            {
                for (int x = b.x0; x < b.x1; ++x)
                {
                    const double dx = x + 0.5 - b.cx;
                    const double dy = y + 0.5 - b.cy;
                    const double u = (dx * b.cos_t + dy * b.sin_t) / b.a;
                    const double v = (-dx * b.sin_t + dy * b.cos_t) / b.b;
                    const double d = std::sqrt(u * u + v * v);
                    // Soft edge (a blurred ellipse): logistic falloff ~1.5 px wide.
                    const double edge = 1.0 / (1.0 + std::exp((d - 1.0) * std::min(b.a, b.b)));
                    const std::size_t i = static_cast<std::size_t>(y - y0) * o.width + x;
                    field[i] = std::max(field[i], b.amplitude * edge);
                    if (d <= 1.0)
                        mask[i] = 1.0;
                }
            }
        }
        pixels.assign(n * static_cast<std::size_t>(o.bands), 0.0);
        for (int r = 0; r < rows; ++r)
        {
            const int y = y0 + r;
            for (int x = 0; x < o.width; ++x)
            {
                const std::size_t i = static_cast<std::size_t>(r) * o.width + x;
                // Uneven illumination: a slow vignette-like gain 0.7..1.3.
                const double light =
                    1.0 + 0.3 * std::sin(2.0 * std::numbers::pi * x / (1.7 * o.width) + phase) *
                              std::cos(2.0 * std::numbers::pi * y / (2.3 * o.height) - phase);
                const bool hole = o.nodata_region && x >= o.nodata_region->x &&
                                  x < o.nodata_region->x + o.nodata_region->width &&
                                  y >= o.nodata_region->y &&
                                  y < o.nodata_region->y + o.nodata_region->height;
                if (hole)
                    mask[i] = 0.0;
                for (int band = 0; band < o.bands; ++band)
                {
                    const double gain = 1.0 - 0.2 * band;
                    const double v =
                        (40.0 + field[i] * gain) * light + 8.0 * hash_noise(o.seed, x, y, band);
                    pixels[i * o.bands + band] =
                        hole ? o.nodata_value : to_stored(v, o.data_type, o.nodata_value);
                }
            }
        }
        image.write_rows(y0, rows, o.width, o.bands, pixels);
        truth.write_rows(y0, rows, o.width, 1, mask);
    }
    image.close();
    truth.close();
}

} // namespace atrous
