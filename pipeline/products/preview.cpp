// SPDX-License-Identifier: Apache-2.0
// Purpose: quick-look PNG: GDAL-downsampled input, percentile stretch, mask overlay, PNG driver.
#include "preview.hpp"

#include "pipeline/products/output_file.hpp"
#include "pipeline/run/output_guard.hpp"
#include "platform/gdal_dataset.hpp"
#include "stages/error.hpp"
#include "stages/read/gdal_error.hpp"
#include "stages/read/gdal_path.hpp"
#include "stages/write/output_schema.hpp"

#include <cpl_vsi.h>
#include <gdal.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <optional>
#include <sys/stat.h>
#include <vector>

namespace atrous
{

namespace
{

namespace fs = std::filesystem;
constexpr const char* where = "preview";
using schema::nodata_u8;

/// Class 1, 2, ... overlay colours (class 0 is background: not overlaid).
constexpr std::array<std::array<int, 3>, 8> palette = {{{230, 25, 75},
                                                        {60, 180, 75},
                                                        {0, 130, 200},
                                                        {255, 225, 25},
                                                        {240, 50, 230},
                                                        {70, 240, 240},
                                                        {245, 130, 48},
                                                        {145, 30, 180}}};

using gdal::Dataset;

/// What the output's config_yaml says about the input (empty when it says nothing).
struct InputHints
{
    fs::path path;
    std::vector<int> bands;
    int tile_size = 0;
};

InputHints hints_of(const std::string& config_yaml)
{
    InputHints h;
    try
    {
        const YAML::Node root = YAML::Load(config_yaml);
        if (root["input"] && root["input"]["path"])
            h.path = root["input"]["path"].as<std::string>();
        if (root["input"] && root["input"]["bands"] && root["input"]["bands"].IsSequence())
            h.bands = root["input"]["bands"].as<std::vector<int>>();
        if (root["tile"] && root["tile"]["size"])
            h.tile_size = root["tile"]["size"].as<int>();
    }
    catch (const YAML::Exception&)
    {
        // A file written by something else: no hints.
    }
    return h;
}

/// Whether the input may be opened: a regular file (links followed) or a GDAL virtual path; a FIFO
/// or a device would block or never end.
bool openable(const fs::path& path)
{
    if (is_gdal_virtual_path(path.string()))
        return true;
    struct stat st
    {
    };
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// The input read downsampled to pw x ph and stretched to 0..255 per band (2nd..98th
/// percentile); `valid` is cleared where the input is nodata or not finite.
struct Image
{
    std::vector<std::array<std::uint8_t, 3>> rgb;
    std::vector<std::uint8_t> valid;
};

std::optional<Image> read_image(const fs::path& path, std::vector<int> bands, int width, int height,
                                int pw, int ph, spdlog::logger& log)
{
    GdalErrorCollector errors;
    std::error_code ec;
    if (path.empty() || !path_exists(path)) // /vsi inputs: VSIStatL
    {
        log.info("preview: input {} not found; drawing the mask only",
                 path.empty() ? std::string("(not recorded)") : path.string());
        return std::nullopt;
    }
    if (!openable(path))
    {
        log.warn("preview: input {} is not a regular file; drawing the mask only", path.string());
        return std::nullopt;
    }
    Dataset ds(
        GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
    if (ds.get() == nullptr || GDALGetRasterXSize(ds.get()) != width ||
        GDALGetRasterYSize(ds.get()) != height)
    {
        log.warn("preview: {}: {}; drawing the mask only", path.string(),
                 ds.get() == nullptr ? errors.message("cannot open")
                                     : std::string("not the size of the output"));
        return std::nullopt;
    }
    const int count = GDALGetRasterCount(ds.get());
    if (bands.empty())
        for (int b = 1; b <= std::min(count, 3); ++b)
            bands.push_back(b);
    bands.resize(bands.size() >= 3 ? 3 : 1);
    for (const int b : bands)
        if (b < 1 || b > count)
            return std::nullopt;

    const std::size_t n = static_cast<std::size_t>(pw) * static_cast<std::size_t>(ph);
    std::vector<std::vector<float>> planes(bands.size(), std::vector<float>(n));
    Image image;
    image.valid.assign(n, 1);
    std::vector<std::uint8_t> all_nodata(n, 1);
    for (std::size_t i = 0; i < bands.size(); ++i)
    {
        GDALRasterBandH band = GDALGetRasterBand(ds.get(), bands[i]);
        // GDAL resamples into the small buffer (using overviews when the file has them).
        GDALRasterIOExtraArg extra;
        INIT_RASTERIO_EXTRA_ARG(extra);
        extra.eResampleAlg = GRIORA_NearestNeighbour;
        if (GDALRasterIOEx(band, GF_Read, 0, 0, width, height, planes[i].data(), pw, ph,
                           GDT_Float32, 0, 0, &extra) != CE_None)
        {
            log.warn("preview: {}: {}; drawing the mask only", path.string(),
                     errors.message("read failed"));
            return std::nullopt;
        }
        int has_nodata = 0;
        const double nodata = GDALGetRasterNoDataValue(band, &has_nodata);
        for (std::size_t k = 0; k < n; ++k)
        {
            const float v = planes[i][k];
            if (!std::isfinite(v))
                image.valid[k] = 0;
            if (!(has_nodata != 0 && static_cast<double>(v) == nodata))
                all_nodata[k] = 0;
        }
    }
    for (std::size_t k = 0; k < n; ++k)
        if (all_nodata[k] != 0)
            image.valid[k] = 0;

    image.rgb.assign(n, {0, 0, 0});
    for (std::size_t i = 0; i < bands.size(); ++i)
    {
        std::vector<float> values;
        values.reserve(n);
        for (std::size_t k = 0; k < n; ++k)
            if (image.valid[k] != 0)
                values.push_back(planes[i][k]);
        float lo = 0, hi = 1;
        if (!values.empty())
        {
            const auto at = [&](double q)
            {
                auto it = values.begin() +
                          static_cast<std::ptrdiff_t>(q * static_cast<double>(values.size() - 1));
                std::nth_element(values.begin(), it, values.end());
                return *it;
            };
            lo = at(0.02);
            hi = at(0.98);
        }
        const float range = hi > lo ? hi - lo : 1.0f;
        for (std::size_t k = 0; k < n; ++k)
        {
            const float t = std::clamp((planes[i][k] - lo) / range, 0.0f, 1.0f);
            const auto v = static_cast<std::uint8_t>(std::lround(t * 255.0f));
            if (bands.size() == 1)
                image.rgb[k] = {v, v, v};
            else
                image.rgb[k][i] = v;
        }
    }
    return image;
}

/// The labels at the preview's pixels (nearest), read in strips of label rows.
std::vector<std::uint8_t> read_labels(const OutputFile& file, int width, int height, int cell,
                                      int pw, int ph)
{
    const OutputDataset& d = file.labels();
    std::vector<int> row_of(static_cast<std::size_t>(ph));
    std::vector<int> col_of(static_cast<std::size_t>(pw));
    for (int py = 0; py < ph; ++py)
    {
        const int y = std::min(height - 1, static_cast<int>((py + 0.5) * height / ph));
        row_of[static_cast<std::size_t>(py)] = std::min(d.height - 1, y / cell);
    }
    for (int px = 0; px < pw; ++px)
    {
        const int x = std::min(width - 1, static_cast<int>((px + 0.5) * width / pw));
        col_of[static_cast<std::size_t>(px)] = std::min(d.width - 1, x / cell);
    }
    std::vector<std::uint8_t> out(static_cast<std::size_t>(pw) * static_cast<std::size_t>(ph));
    const int strip = 256;
    std::vector<std::uint8_t> rows;
    int py = 0;
    for (int y0 = 0; y0 < d.height && py < ph; y0 += strip)
    {
        const int h = std::min(strip, d.height - y0);
        if (row_of[static_cast<std::size_t>(py)] >= y0 + h)
            continue; // no preview row in this strip
        rows.resize(static_cast<std::size_t>(h) * static_cast<std::size_t>(d.width));
        file.read(d, 0, 0, y0, d.width, h, rows.data());
        for (; py < ph && row_of[static_cast<std::size_t>(py)] < y0 + h; ++py)
        {
            const std::uint8_t* src =
                rows.data() + static_cast<std::size_t>(row_of[static_cast<std::size_t>(py)] - y0) *
                                  static_cast<std::size_t>(d.width);
            std::uint8_t* dst = out.data() + static_cast<std::size_t>(py) * pw;
            for (int px = 0; px < pw; ++px)
                dst[px] = src[col_of[static_cast<std::size_t>(px)]];
        }
    }
    return out;
}

} // namespace

fs::path default_preview_path(const fs::path& output)
{
    fs::path p = output;
    return p.replace_extension(".png");
}

PreviewResult write_preview(const PreviewOptions& o, spdlog::logger& log)
{
    if (o.max_side < 1)
        throw ConfigError(where, "max_side " + std::to_string(o.max_side) + ": >= 1 expected");
    gdal_register_once();
    const OutputFile file(o.output);
    if (file.tiles_done() < file.tiles_total() && !o.allow_partial)
        throw InputError(where, o.output.string() + ": incomplete, " +
                                    std::to_string(file.tiles_done()) + " of " +
                                    std::to_string(file.tiles_total()) +
                                    " tiles written (resume the run, or --allow-partial to draw "
                                    "it with the missing tiles as nodata)");
    const InputHints hints = hints_of(file.config_yaml());
    const fs::path input = o.input.empty() ? hints.path : o.input;
    const fs::path png = o.png.empty() ? default_preview_path(o.output) : o.png;
    {
        // Never over the output it previews nor the raster it reads, under any spelling.
        std::vector<NamedFile> read{{o.output, "the output it previews"}};
        if (!input.empty() && openable(input))
            for (NamedFile& f : files_read_by_run(input.string(), {}))
                read.push_back(std::move(f));
        const std::string remedy = "choose another --out";
        refuse_overwriting(
            {{png, "the preview", remedy}, {png.string() + ".partial", "the preview", remedy}},
            read, where);
        safe_file::require_replaceable(png, where);
    }

    // The image's size: the mask's, or for a classifier the input's (else the class grid).
    const OutputDataset& labels = file.labels();
    int width = labels.width;
    int height = labels.height;
    int cell = 1;
    if (!file.spatial())
    {
        GdalErrorCollector quiet;
        std::error_code ec;
        Dataset ds(!input.empty() && path_exists(input) && openable(input)
                       ? GDALOpenEx(input.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr,
                                    nullptr, nullptr)
                       : nullptr);
        if (ds.get() != nullptr)
        {
            width = GDALGetRasterXSize(ds.get());
            height = GDALGetRasterYSize(ds.get());
            cell = hints.tile_size > 0 ? hints.tile_size
                                       : (std::max(width, height) + labels.width - 1) /
                                             std::max(labels.width, labels.height);
        }
    }
    const double s = std::min(1.0, static_cast<double>(o.max_side) / std::max(width, height));
    const int pw = std::max(1, static_cast<int>(std::lround(width * s)));
    const int ph = std::max(1, static_cast<int>(std::lround(height * s)));

    const std::optional<Image> image = read_image(input, hints.bands, width, height, pw, ph, log);
    const std::vector<std::uint8_t> mask = read_labels(file, width, height, cell, pw, ph);

    const std::size_t n = static_cast<std::size_t>(pw) * static_cast<std::size_t>(ph);
    std::vector<std::uint8_t> planes(3 * n);
    for (std::size_t k = 0; k < n; ++k)
    {
        const std::uint8_t label = mask[k];
        std::array<int, 3> c = {96, 96, 96};
        if (image)
            c = {image->rgb[k][0], image->rgb[k][1], image->rgb[k][2]};
        if (label == nodata_u8 || (image && image->valid[k] == 0))
        {
            for (int& v : c)
                v = image ? v * 3 / 10 : 0;
        }
        else if (label >= 1)
        {
            const auto& p = palette[static_cast<std::size_t>(label - 1) % palette.size()];
            for (std::size_t i = 0; i < 3; ++i)
                c[i] = (c[i] + p[i]) / 2;
        }
        for (std::size_t i = 0; i < 3; ++i)
            planes[i * n + k] = static_cast<std::uint8_t>(c[i]);
    }

    // Encoded in memory, then written by atrous itself: GDAL never opens a file on disk here.
    static std::atomic<int> serial{0};
    const std::string mem_png = "/vsimem/atrous_preview_" + std::to_string(serial++) + ".png";
    std::string bytes;
    {
        GdalErrorCollector errors;
        Dataset mem(GDALCreate(GDALGetDriverByName("MEM"), "", pw, ph, 3, GDT_Byte, nullptr));
        if (mem.get() == nullptr ||
            GDALDatasetRasterIO(mem.get(), GF_Write, 0, 0, pw, ph, planes.data(), pw, ph, GDT_Byte,
                                3, nullptr, 0, 0, 0) != CE_None)
            throw OutputError(where, errors.message("in-memory image failed"));
        {
            Dataset out(GDALCreateCopy(GDALGetDriverByName("PNG"), mem_png.c_str(), mem.get(),
                                       FALSE, nullptr, nullptr, nullptr));
            if (out.get() == nullptr || errors.failed())
            {
                VSIUnlink(mem_png.c_str());
                throw OutputError(where, png.string() + ": " + errors.message("cannot encode"));
            }
        }
        vsi_l_offset length = 0;
        GByte* data = VSIGetMemFileBuffer(mem_png.c_str(), &length, FALSE);
        if (data != nullptr)
            bytes.assign(reinterpret_cast<const char*>(data), static_cast<std::size_t>(length));
        VSIUnlink(mem_png.c_str());
        VSIUnlink((mem_png + ".aux.xml").c_str());
        if (bytes.empty())
            throw OutputError(where, png.string() + ": " + errors.message("cannot encode"));
    }
    safe_file::write_atomically(png, bytes, png_leftover(), where);
    return {png, pw, ph, image.has_value()};
}

} // namespace atrous
