// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous export`: HDF5 windows -> tiled DEFLATE GeoTIFF (+ overviews) or COG; the mask
// -> GeoPackage polygons (GDALPolygonize).
#include "export.hpp"

#include "pipeline/output_file.hpp"
#include "stages/error.hpp"
#include "stages/read/gdal_error.hpp"

#include <cpl_string.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace atrous
{

namespace
{

namespace fs = std::filesystem;
constexpr const char* where = "export";

/// Owns a GDALDatasetH; close() reports whether GDAL failed while flushing.
class GdalDataset
{
public:
    explicit GdalDataset(GDALDatasetH ds) : m_ds(ds) {}
    ~GdalDataset()
    {
        if (m_ds != nullptr)
        {
            GdalErrorCollector quiet;
            GDALClose(m_ds);
        }
    }
    GdalDataset(const GdalDataset&) = delete;
    GdalDataset& operator=(const GdalDataset&) = delete;
    GDALDatasetH get() const { return m_ds; }
    void close(const fs::path& path)
    {
        GdalErrorCollector errors;
        GDALClose(m_ds);
        m_ds = nullptr;
        if (errors.failed())
            throw OutputError(where, path.string() + ": " + errors.message("close failed"));
    }

private:
    GDALDatasetH m_ds = nullptr;
};

/// Removes a temporary file unless released (the file was renamed into place).
class TempFile
{
public:
    explicit TempFile(fs::path path) : m_path(std::move(path)) {}
    ~TempFile()
    {
        std::error_code ec;
        if (!m_path.empty())
            fs::remove(m_path, ec);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const fs::path& path() const { return m_path; }
    void publish(const fs::path& to)
    {
        std::error_code ec;
        fs::rename(m_path, to, ec);
        if (ec)
            throw OutputError(where, m_path.string() + ": cannot rename to " + to.string() + ": " +
                                         ec.message());
        m_path.clear();
    }

private:
    fs::path m_path;
};

void check_target(const fs::path& path, const fs::path& input)
{
    std::error_code ec;
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    if (!fs::is_directory(dir, ec))
        throw OutputError(where, dir.string() + ": no such directory");
    if (fs::is_directory(path, ec))
        throw OutputError(where, path.string() + ": is a directory");
    if (fs::exists(path, ec) && fs::equivalent(path, input, ec))
        throw ConfigError(where, path.string() + ": is the input file");
}

GDALDriverH driver(const char* name)
{
    GDALDriverH d = GDALGetDriverByName(name);
    if (d == nullptr)
        throw OutputError(where, std::string("GDAL has no ") + name + " driver");
    return d;
}

/// Overview factors 2, 4, ... until the long side fits one tile.
std::vector<int> overview_factors(int width, int height, int block)
{
    std::vector<int> factors;
    const int longest = std::max(width, height);
    for (int f = 1; (longest + f - 1) / f > block; f *= 2)
        factors.push_back(f * 2);
    return factors;
}

void set_georeferencing(GDALDatasetH ds, const OutputFile& file)
{
    if (file.geotransform())
    {
        std::array<double, 6> gt = *file.geotransform();
        GDALSetGeoTransform(ds, gt.data());
    }
    if (!file.crs_wkt().empty())
        GDALSetProjection(ds, file.crs_wkt().c_str());
}

/// Writes dataset `d` of `file` to a GeoTIFF at `path`, one window of 4 x 4 tiles at a time.
void write_geotiff(const OutputFile& file, const OutputDataset& d, const fs::path& path, int block,
                   bool overviews)
{
    const GDALDataType type = d.float32 ? GDT_Float32 : GDT_Byte;
    CPLStringList options;
    options.SetNameValue("TILED", "YES");
    options.SetNameValue("BLOCKXSIZE", std::to_string(block).c_str());
    options.SetNameValue("BLOCKYSIZE", std::to_string(block).c_str());
    options.SetNameValue("COMPRESS", "DEFLATE");
    options.SetNameValue("BIGTIFF", "IF_SAFER");
    if (d.bands > 1)
        options.SetNameValue("INTERLEAVE", "BAND");
    GdalErrorCollector errors;
    GdalDataset ds(GDALCreate(driver("GTiff"), path.c_str(), d.width, d.height, d.bands, type,
                              options.List()));
    if (ds.get() == nullptr)
        throw OutputError(where, path.string() + ": " + errors.message("cannot create"));
    set_georeferencing(ds.get(), file);
    const bool labels = d.name == "mask" || d.name == "class";
    for (int b = 1; b <= d.bands; ++b)
    {
        GDALRasterBandH band = GDALGetRasterBand(ds.get(), b);
        GDALSetRasterNoDataValue(band, d.float32 ? std::numeric_limits<double>::quiet_NaN() : 255);
        if (!labels)
        {
            GDALSetDescription(band, ("class " + std::to_string(b - 1)).c_str());
            if (!d.float32)
                GDALSetRasterScale(band, 1.0 / 254.0);
        }
    }

    const int step = block * 4;
    std::vector<std::uint8_t> u8;
    std::vector<float> f32;
    for (int y = 0; y < d.height; y += step)
    {
        for (int x = 0; x < d.width; x += step)
        {
            const int w = std::min(step, d.width - x);
            const int h = std::min(step, d.height - y);
            const std::size_t n = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
            for (int b = 0; b < d.bands; ++b)
            {
                void* data = nullptr;
                if (d.float32)
                {
                    f32.resize(n);
                    file.read(d, b, x, y, w, h, f32.data());
                    data = f32.data();
                }
                else
                {
                    u8.resize(n);
                    file.read(d, b, x, y, w, h, u8.data());
                    data = u8.data();
                }
                if (GDALRasterIO(GDALGetRasterBand(ds.get(), b + 1), GF_Write, x, y, w, h, data, w,
                                 h, type, 0, 0) != CE_None)
                    throw OutputError(where, path.string() + ": " + errors.message("write failed"));
            }
        }
    }
    if (overviews)
    {
        std::vector<int> factors = overview_factors(d.width, d.height, block);
        if (!factors.empty() && GDALBuildOverviews(ds.get(), labels ? "NEAREST" : "AVERAGE",
                                                   static_cast<int>(factors.size()), factors.data(),
                                                   0, nullptr, nullptr, nullptr) != CE_None)
            throw OutputError(where, path.string() + ": overviews: " + errors.message("failed"));
    }
    ds.close(path);
}

/// GeoTIFF `source` -> COG at `path` (the COG driver builds the overviews).
void write_cog(const fs::path& source, const fs::path& path, bool labels, int block)
{
    GdalErrorCollector errors;
    GdalDataset src(
        GDALOpenEx(source.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
    if (src.get() == nullptr)
        throw OutputError(where, source.string() + ": " + errors.message("cannot open"));
    CPLStringList options;
    options.SetNameValue("COMPRESS", "DEFLATE");
    options.SetNameValue("BLOCKSIZE", std::to_string(block).c_str());
    options.SetNameValue("RESAMPLING", labels ? "NEAREST" : "AVERAGE");
    options.SetNameValue("OVERVIEWS", "IGNORE_EXISTING");
    options.SetNameValue("BIGTIFF", "IF_SAFER");
    GdalDataset dst(GDALCreateCopy(driver("COG"), path.c_str(), src.get(), FALSE, options.List(),
                                   nullptr, nullptr));
    if (dst.get() == nullptr)
        throw OutputError(where, path.string() + ": " + errors.message("COG creation failed"));
    dst.close(path);
}

/// The mask GeoTIFF `mask_tif` -> GeoPackage at `path`, layer "mask", field "class".
void write_polygons(const fs::path& mask_tif, const fs::path& path, const std::string& crs_wkt)
{
    GdalErrorCollector errors;
    GdalDataset src(
        GDALOpenEx(mask_tif.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
    if (src.get() == nullptr)
        throw OutputError(where, mask_tif.string() + ": " + errors.message("cannot open"));
    GdalDataset dst(GDALCreate(driver("GPKG"), path.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
    if (dst.get() == nullptr)
        throw OutputError(where, path.string() + ": " + errors.message("cannot create"));
    OGRSpatialReferenceH srs = nullptr;
    if (!crs_wkt.empty())
    {
        srs = OSRNewSpatialReference(crs_wkt.c_str());
        if (srs != nullptr)
            OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    }
    OGRLayerH layer = GDALDatasetCreateLayer(dst.get(), "mask", srs, wkbPolygon, nullptr);
    if (srs != nullptr)
        OSRRelease(srs);
    if (layer == nullptr)
        throw OutputError(where, path.string() + ": " + errors.message("cannot create layer"));
    OGRFieldDefnH field = OGR_Fld_Create("class", OFTInteger);
    const OGRErr field_err = OGR_L_CreateField(layer, field, TRUE);
    OGR_Fld_Destroy(field);
    if (field_err != OGRERR_NONE)
        throw OutputError(where, path.string() + ": " + errors.message("cannot create field"));
    GDALRasterBandH band = GDALGetRasterBand(src.get(), 1);
    GDALDatasetStartTransaction(dst.get(), FALSE);
    // The mask band excludes nodata (255): those pixels form no polygon.
    if (GDALPolygonize(band, GDALGetMaskBand(band), layer, 0, nullptr, nullptr, nullptr) != CE_None)
        throw OutputError(where, path.string() + ": polygonize: " + errors.message("failed"));
    if (GDALDatasetCommitTransaction(dst.get()) != OGRERR_NONE)
        throw OutputError(where, path.string() + ": " + errors.message("commit failed"));
    dst.close(path);
}

fs::path partial_of(const fs::path& path, const char* suffix = ".partial")
{
    return fs::path(path.string() + suffix);
}

} // namespace

void export_output(const ExportOptions& o, spdlog::logger& log)
{
    if (o.what != "mask" && o.what != "probability")
        throw ConfigError(where, "--what: '" + o.what + "' given, mask or probability expected");
    if (o.to.empty() && o.polygons.empty())
        throw ConfigError(where, "nothing to do: give --to and/or --polygons");
    if (o.block < 16 || o.block % 16 != 0)
        throw ConfigError(where,
                          "block " + std::to_string(o.block) + ": a multiple of 16 expected");
    gdal_register_once();
    const OutputFile file(o.input);
    if (!o.to.empty())
        check_target(o.to, o.input);
    if (!o.polygons.empty())
        check_target(o.polygons, o.input);

    const OutputDataset* d = &file.labels();
    if (o.what == "probability")
    {
        if (!file.probabilities())
            throw InputError(o.input.string(),
                             "no probabilities (/" +
                                 std::string(file.spatial() ? "probability" : "class_probability") +
                                 "): run with output.probabilities: uint8 or float32");
        d = &*file.probabilities();
    }
    const bool labels = d == &file.labels();

    if (!o.to.empty())
    {
        TempFile out(partial_of(o.to));
        if (o.cog)
        {
            TempFile plain(partial_of(o.to, ".partial.tif"));
            write_geotiff(file, *d, plain.path(), o.block, false);
            write_cog(plain.path(), out.path(), labels, o.block);
        }
        else
        {
            write_geotiff(file, *d, out.path(), o.block, true);
        }
        out.publish(o.to);
        log.info("export: wrote {} ({}{} x {}, {} band{}, {})", o.to.string(), o.cog ? "COG " : "",
                 d->width, d->height, d->bands, d->bands == 1 ? "" : "s",
                 d->float32 ? "float32" : "uint8");
    }
    if (!o.polygons.empty())
    {
        // Polygonize from the exported mask when there is one, else from a temporary mask.
        std::optional<TempFile> mask_tif;
        fs::path source = o.to;
        if (o.to.empty() || !labels)
        {
            mask_tif.emplace(partial_of(o.polygons, ".mask.tif"));
            write_geotiff(file, file.labels(), mask_tif->path(), o.block, false);
            source = mask_tif->path();
        }
        TempFile out(partial_of(o.polygons));
        write_polygons(source, out.path(), file.crs_wkt());
        out.publish(o.polygons);
        log.info("export: wrote {} (layer mask, field class)", o.polygons.string());
    }
}

} // namespace atrous
