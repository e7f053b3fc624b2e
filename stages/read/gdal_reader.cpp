// SPDX-License-Identifier: Apache-2.0
// Purpose: `read.gdal`: GDAL open/validate, block layout, one RasterIO per tile window, nodata,
// validity masks and normalization.
#include "gdal_reader.hpp"

#include "platform/gdal_dataset.hpp"
#include "stages/error.hpp"
#include "stages/read/gdal_error.hpp"
#include "stages/read/gdal_path.hpp"
#include "stages/read/make_reader.hpp"
#include "stages/read/normalization_range.hpp"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <fmt/format.h>
#include <gdal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>
#include <string>

namespace atrous
{

namespace
{

/// GDAL_NUM_THREADS=1 for this thread while alive (thread-local; the process setting and other
/// threads are untouched). GDAL 3.6.2's multi-threaded GeoTIFF decoding returns wrong pixels
/// for band-interleaved multi-band files, reporting the error from its worker threads where no
/// collector sees it, so the reader decodes in the calling thread whatever the environment says.
/// GeoTIFFs read the option when opened; VRT sources are opened during RasterIO.
class SingleThreadDecode
{
public:
    SingleThreadDecode()
    {
        if (const char* old = CPLGetThreadLocalConfigOption("GDAL_NUM_THREADS", nullptr))
            m_old = old;
        CPLSetThreadLocalConfigOption("GDAL_NUM_THREADS", "1");
    }
    ~SingleThreadDecode()
    {
        CPLSetThreadLocalConfigOption("GDAL_NUM_THREADS", m_old ? m_old->c_str() : nullptr);
    }
    SingleThreadDecode(const SingleThreadDecode&) = delete;
    SingleThreadDecode& operator=(const SingleThreadDecode&) = delete;

private:
    std::optional<std::string> m_old;
};

} // namespace

struct GdalReader::State
{
    RasterInfo info;
    std::vector<int> bands;                   // 1-based, as passed to RasterIO
    std::vector<BandNormalization> normalize; // one per selected band
    /// Open handles not in use. A read takes one (or opens one) and gives it back, so reads
    /// from one thread at a time (the pipeline's serial read) always use the same handle, whose
    /// bands own the cached blocks: GDAL caches blocks per handle, not per file.
    std::mutex mutex;
    std::vector<gdal::Dataset> idle;
};

GdalReader::GdalReader(ReadOptions options) : m_options(std::move(options)) {}

GdalReader::~GdalReader() = default;

namespace
{

gdal::Dataset open_dataset(const std::string& path)
{
    GdalErrorCollector errors;
    gdal::Dataset ds(GDALOpenEx(path.c_str(),
                                GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, nullptr,
                                nullptr, nullptr));
    if (!ds)
        throw InputError("read.gdal", path + ": " + errors.message("not a raster GDAL can open"));
    return ds;
}

/// input.normalize.preset: percentile: per band, the percentiles of a sample of at most
/// 1024 x 1024 pixels that GDAL reads downsampled (overviews used when present; no statistics are
/// stored beside the input, unlike GDAL's histogram, which writes a .aux.xml) map to 0 and 1.
/// Nodata (input.nodata, else the band's own) and NaN/Inf are left out.
std::vector<BandNormalization> percentile_normalization(GDALDatasetH ds, const std::string& path,
                                                        const std::vector<int>& bands,
                                                        std::optional<double> nodata,
                                                        const std::array<double, 2>& q)
{
    const int width = GDALGetRasterXSize(ds);
    const int height = GDALGetRasterYSize(ds);
    const double s = std::min(1.0, 1024.0 / std::max(width, height));
    const int sw = std::max(1, static_cast<int>(std::lround(width * s)));
    const int sh = std::max(1, static_cast<int>(std::lround(height * s)));
    std::vector<BandNormalization> out;
    std::vector<double> sample(static_cast<std::size_t>(sw) * static_cast<std::size_t>(sh));
    for (const int b : bands)
    {
        GdalErrorCollector errors;
        GDALRasterBandH band = GDALGetRasterBand(ds, b);
        if (GDALRasterIO(band, GF_Read, 0, 0, width, height, sample.data(), sw, sh, GDT_Float64, 0,
                         0) != CE_None)
            throw InputError("read.gdal", path + ": band " + std::to_string(b) +
                                              ": input.normalize.preset percentile: " +
                                              errors.message("read failed"));
        int has = 0;
        const double own = GDALGetRasterNoDataValue(band, &has);
        std::optional<double> skip = nodata;
        if (!skip && has != 0)
            skip = own;
        std::vector<double> values;
        values.reserve(sample.size());
        for (const double v : sample)
            if (std::isfinite(v) && !(skip && v == *skip))
                values.push_back(v);
        if (values.empty())
            throw InputError("read.gdal", path + ": band " + std::to_string(b) +
                                              ": input.normalize.preset percentile: no valid "
                                              "pixel in the sample");
        const auto at = [&](double percent)
        {
            const auto k =
                static_cast<std::size_t>(percent / 100.0 * static_cast<double>(values.size() - 1));
            std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k),
                             values.end());
            return values[k];
        };
        const double v0 = at(q[0]);
        double v1 = at(q[1]);
        if (v1 <= v0)
            v1 = v0 + 1;
        out.push_back({1.0 / (v1 - v0), -v0 / (v1 - v0)});
    }
    return out;
}

/// Integer bands: every value the type holds must stay finite in float32 once normalized
/// (floating bands are checked per pixel: a non-finite result stops the run at its tile).
void check_normalization_range(GDALDatasetH ds, const std::vector<int>& bands,
                               const std::vector<BandNormalization>& normalize)
{
    for (std::size_t i = 0; i < bands.size(); ++i)
    {
        const GDALDataType type = GDALGetRasterDataType(GDALGetRasterBand(ds, bands[i]));
        if (!GDALDataTypeIsInteger(type) || GDALDataTypeIsComplex(type))
            continue;
        const int bits = GDALGetDataTypeSizeBits(type);
        const bool is_signed = GDALDataTypeIsSigned(type) != 0;
        const double lo = is_signed ? -std::ldexp(1.0, bits - 1) : 0.0;
        const double hi = std::ldexp(1.0, is_signed ? bits - 1 : bits) - 1;
        const BandNormalization& n = normalize[i];
        if (const auto v = overflowing_input(n, lo, hi))
            throw ConfigError("input.normalize",
                              fmt::format("scale {:g} and offset {:g} map band {}'s {} value {:g} "
                                          "to {:g}, beyond float32 (|x| <= {:g}): the network's "
                                          "inputs would not be finite",
                                          n.scale, n.offset, bands[i], GDALGetDataTypeName(type),
                                          *v, *v * n.scale + n.offset,
                                          static_cast<double>(std::numeric_limits<float>::max())));
    }
}

/// The layout of one opened file (not following a VRT's sources).
BlockLayout file_layout(GDALDatasetH ds, int band_index)
{
    BlockLayout l;
    GDALRasterBandH band = GDALGetRasterBand(ds, band_index);
    GDALGetBlockSize(band, &l.block_width, &l.block_height);
    const int width = GDALGetRasterXSize(ds);
    l.tiled = l.block_width != width || l.block_height == GDALGetRasterYSize(ds);
    const char* compression = GDALGetMetadataItem(ds, "COMPRESSION", "IMAGE_STRUCTURE");
    l.compression = compression != nullptr ? compression : "none";
    const char* interleave = GDALGetMetadataItem(ds, "INTERLEAVE", "IMAGE_STRUCTURE");
    l.pixel_interleaved = interleave == nullptr || std::string(interleave) == "PIXEL";
    l.file_bands = GDALGetRasterCount(ds);
    const GDALDataType type = GDALGetRasterDataType(band);
    l.bytes_per_sample = GDALGetDataTypeSizeBytes(type);
    l.data_type = GDALGetDataTypeName(type);
    return l;
}

/// The file's layout; a VRT: its first source's, with the count of source files.
BlockLayout block_layout(GDALDatasetH ds, int band_index, const std::string& driver)
{
    if (driver != "VRT")
        return file_layout(ds, band_index);
    BlockLayout vrt = file_layout(ds, band_index);
    vrt.compression = "virtual";
    char** files = GDALGetFileList(ds);
    const int count = CSLCount(files);
    // The first entry is the .vrt itself when it is a file; the others are the sources.
    std::string source;
    int sources = 0;
    for (int i = 0; i < count; ++i)
    {
        const std::string f = files[i];
        if (f.size() >= 4 &&
            (f.compare(f.size() - 4, 4, ".vrt") == 0 || f.compare(f.size() - 4, 4, ".VRT") == 0))
            continue;
        if (source.empty())
            source = f;
        ++sources;
    }
    CSLDestroy(files);
    if (source.empty())
        return vrt;
    GdalErrorCollector quiet; // an unreadable source fails later, with the window that needs it
    const gdal::Dataset src(
        GDALOpenEx(source.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
    if (!src)
        return vrt;
    BlockLayout l = file_layout(src.get(), std::min(band_index, GDALGetRasterCount(src.get())));
    l.source_files = sources;
    return l;
}

/// A validity mask GDAL reports beyond a nodata value: its zero pixels are nodata.
std::string mask_kind(GDALRasterBandH band)
{
    const int flags = GDALGetMaskFlags(band);
    if ((flags & (GMF_ALL_VALID | GMF_NODATA)) != 0)
        return "";
    if ((flags & GMF_ALPHA) != 0)
        return "alpha band";
    if ((flags & GMF_PER_DATASET) != 0)
        return "per-dataset mask";
    return "band mask";
}

} // namespace

void GdalReader::prepare(const RunContext& context)
{
    gdal_register_once();
    const std::string path = m_options.path.string();
    std::error_code ec;
    // A /vsi name is checked by GDAL itself when it opens it (see open_dataset).
    if (!is_gdal_virtual_path(path) && !std::filesystem::exists(m_options.path, ec))
        throw InputError("read.gdal", path + ": no such file");
    if (std::filesystem::is_directory(m_options.path, ec))
        throw InputError("read.gdal", path + ": is a directory, not a raster");

    const SingleThreadDecode single_thread_decode;
    auto state = std::make_unique<State>();
    gdal::Dataset handle = open_dataset(path);
    GDALDatasetH ds = handle.get();

    RasterInfo& info = state->info;
    info.path = path;
    GDALDriverH driver = GDALGetDatasetDriver(ds);
    info.driver = driver != nullptr ? GDALGetDriverShortName(driver) : "";
    info.width = GDALGetRasterXSize(ds);
    info.height = GDALGetRasterYSize(ds);
    const int file_bands = GDALGetRasterCount(ds);
    if (file_bands <= 0)
        throw InputError("read.gdal", path + ": not a raster (the file has no bands)");
    if (info.width <= 0 || info.height <= 0)
        throw InputError("read.gdal", path + ": the raster has no pixels (" +
                                          std::to_string(info.width) + " x " +
                                          std::to_string(info.height) + ")");

    if (m_options.bands.empty())
    {
        for (int b = 1; b <= file_bands; ++b)
            state->bands.push_back(b);
    }
    else
    {
        for (const int b : m_options.bands)
        {
            if (b < 1 || b > file_bands)
                throw InputError("read.gdal", path + ": band " + std::to_string(b) +
                                                  " requested, the file has " +
                                                  std::to_string(file_bands));
        }
        state->bands = m_options.bands;
    }
    info.bands = static_cast<int>(state->bands.size());

    const auto& norm = m_options.normalize;
    if (norm.empty())
        state->normalize.assign(state->bands.size(), BandNormalization{});
    else if (norm.size() == 1)
        state->normalize.assign(state->bands.size(), norm.front());
    else if (norm.size() == state->bands.size())
        state->normalize = norm;
    else
        throw ConfigError("read.gdal", "input.normalize: " + std::to_string(norm.size()) +
                                           " entries given, 1 or " +
                                           std::to_string(state->bands.size()) +
                                           " (one per band) expected");

    if (m_options.percentile_stretch)
        state->normalize = percentile_normalization(ds, path, state->bands, m_options.nodata,
                                                    *m_options.percentile_stretch);
    check_normalization_range(ds, state->bands, state->normalize);

    std::array<double, 6> gt{};
    if (GDALGetGeoTransform(ds, gt.data()) == CE_None)
        info.geotransform = gt;
    const char* wkt = GDALGetProjectionRef(ds);
    info.crs_wkt = wkt != nullptr ? wkt : "";
    if (m_options.nodata)
    {
        info.nodata = m_options.nodata;
    }
    else
    {
        int has = 0;
        const double value =
            GDALGetRasterNoDataValue(GDALGetRasterBand(ds, state->bands.front()), &has);
        if (has != 0)
            info.nodata = value;
    }
    GDALRasterBandH first = GDALGetRasterBand(ds, state->bands.front());
    info.mask = mask_kind(first);
    info.layout = block_layout(ds, state->bands.front(), info.driver);

    // Keep what there is; say so when there is nothing (the output will have no CRS either).
    if (context.log != nullptr)
    {
        if (!info.geotransform && info.crs_wkt.empty())
            context.log->warn("read.gdal: {}: not georeferenced (no geotransform, no CRS): the "
                              "output is in pixel coordinates",
                              path);
        else if (info.crs_wkt.empty())
            context.log->warn("read.gdal: {}: no CRS (projection): the output keeps the "
                              "geotransform without one",
                              path);
    }
    state->idle.push_back(std::move(handle));
    m_state = std::move(state);
}

void GdalReader::finish(const RunContext&)
{
    if (m_state)
    {
        const std::lock_guard lock(m_state->mutex);
        m_state->idle.clear();
    }
}

RasterInfo GdalReader::info() const
{
    if (!m_state)
        throw Error("read.gdal", "info() called before prepare()");
    return m_state->info;
}

RasterTile GdalReader::read(const TileTask& task)
{
    if (!m_state)
        throw Error("read.gdal", "read() called before prepare()");
    const RasterInfo& info = m_state->info;
    const Window& w = task.window;
    const int bands = info.bands;

    RasterTile tile;
    tile.task = task;
    tile.pixels = Image(ImageShape{w.height, w.width, bands}, 0.0f);
    tile.valid.assign(static_cast<std::size_t>(w.height) * static_cast<std::size_t>(w.width), 0);

    // The part of the window inside the image; the rest stays 0 / invalid.
    const int x0 = std::max(w.x, 0);
    const int y0 = std::max(w.y, 0);
    const int x1 = std::min(w.x + w.width, info.width);
    const int y1 = std::min(w.y + w.height, info.height);
    if (x1 > x0 && y1 > y0)
    {
        const SingleThreadDecode single_thread_decode;
        gdal::Dataset handle;
        {
            const std::lock_guard lock(m_state->mutex);
            if (!m_state->idle.empty())
            {
                handle = std::move(m_state->idle.back());
                m_state->idle.pop_back();
            }
        }
        if (!handle)
            handle = open_dataset(info.path);
        float* origin = tile.pixels.data() + tile.pixels.index(y0 - w.y, x0 - w.x, 0);
        const GSpacing pixel_space = static_cast<GSpacing>(bands) * sizeof(float);
        const GSpacing line_space = pixel_space * w.width;
        const int rw = x1 - x0;
        const int rh = y1 - y0;
        const auto failed = [&](const GdalErrorCollector& errors, const char* what)
        {
            return InputError("read.gdal", info.path + ": reading " + what + "window (" +
                                               std::to_string(x0) + "," + std::to_string(y0) + " " +
                                               std::to_string(rw) + "x" + std::to_string(rh) +
                                               ") failed: " + errors.message("RasterIO failed"));
        };
        {
            // GDAL may report a failure and still return CE_None: the pixels are then wrong.
            GdalErrorCollector errors;
            if (GDALDatasetRasterIOEx(handle.get(), GF_Read, x0, y0, rw, rh, origin, rw, rh,
                                      GDT_Float32, bands, m_state->bands.data(), pixel_space,
                                      line_space, sizeof(float), nullptr) != CE_None ||
                errors.failed())
                throw failed(errors, "");
        }
        // The file's own validity mask (alpha band, per-dataset mask): 0 = nodata.
        std::vector<std::uint8_t> mask;
        if (!info.mask.empty())
        {
            mask.resize(static_cast<std::size_t>(rw) * static_cast<std::size_t>(rh));
            GDALRasterBandH band = GDALGetRasterBand(handle.get(), m_state->bands.front());
            GdalErrorCollector errors;
            if (GDALRasterIO(GDALGetMaskBand(band), GF_Read, x0, y0, rw, rh, mask.data(), rw, rh,
                             GDT_Byte, 0, 0) != CE_None ||
                errors.failed())
                throw failed(errors, "the mask of the ");
        }
        {
            const std::lock_guard lock(m_state->mutex);
            m_state->idle.push_back(std::move(handle));
        }

        const bool has_nodata = info.nodata.has_value() && !std::isnan(*info.nodata);
        const float nodata = has_nodata ? static_cast<float>(*info.nodata) : 0.0f;
        const auto& norm = m_state->normalize;
        for (int y = y0; y < y1; ++y)
        {
            for (int x = x0; x < x1; ++x)
            {
                float* px = tile.pixels.data() + tile.pixels.index(y - w.y, x - w.x, 0);
                bool finite = true;
                bool all_nodata = has_nodata;
                for (int b = 0; b < bands; ++b)
                {
                    finite = finite && std::isfinite(px[b]);
                    all_nodata = all_nodata && px[b] == nodata;
                }
                const bool masked =
                    !mask.empty() &&
                    mask[static_cast<std::size_t>(y - y0) * static_cast<std::size_t>(rw) +
                         static_cast<std::size_t>(x - x0)] == 0;
                if (!finite || all_nodata || masked)
                {
                    std::fill(px, px + bands, 0.0f);
                    continue;
                }
                for (int b = 0; b < bands; ++b)
                {
                    const double v = px[b] * norm[b].scale + norm[b].offset;
                    // Floating bands: a value the normalization takes beyond float32 (integer
                    // bands were checked against their type's range in prepare()).
                    if (!(std::fabs(v) <= std::numeric_limits<float>::max()))
                        throw ConfigError(
                            "input.normalize",
                            fmt::format("scale {} and offset {} map band {}'s value {} at pixel "
                                        "(x {}, y {}) to {:.6g}, beyond float32 (|x| <= {:g}): the "
                                        "network's inputs would not be finite",
                                        norm[b].scale, norm[b].offset, m_state->bands[b], px[b], x,
                                        y, v,
                                        static_cast<double>(std::numeric_limits<float>::max())));
                    px[b] = static_cast<float>(v);
                }
                tile.valid[static_cast<std::size_t>(y - w.y) * w.width + (x - w.x)] = 1;
            }
        }
    }

    // empty: no valid pixel in the core.
    tile.empty = true;
    const Window& core = task.core;
    for (int y = std::max(core.y, w.y);
         y < std::min(core.y + core.height, w.y + w.height) && tile.empty; ++y)
    {
        for (int x = std::max(core.x, w.x); x < std::min(core.x + core.width, w.x + w.width); ++x)
        {
            if (tile.valid[static_cast<std::size_t>(y - w.y) * w.width + (x - w.x)] != 0)
            {
                tile.empty = false;
                break;
            }
        }
    }
    return tile;
}

std::unique_ptr<Reader> make_gdal_reader(const ReadOptions& options)
{
    return std::make_unique<GdalReader>(options);
}

} // namespace atrous
