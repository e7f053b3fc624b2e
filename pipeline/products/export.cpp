// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous export`: the HDF5 output as a GDAL dataset (read block by block) ->
// GDALTranslate; the mask -> GDALPolygonize -> GDALVectorTranslate; every file staged in a
// private directory and renamed into place.
#include "export.hpp"

#include "pipeline/products/output_file.hpp"
#include "platform/gdal_dataset.hpp"
#include "stages/error.hpp"
#include "stages/read/gdal_error.hpp"
#include "stages/write/output_schema.hpp"
#include "stages/write/safe_file.hpp"

#include <cpl_string.h>
#include <fmt/format.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <gdal_priv.h>
#include <gdal_rat.h>
#include <gdal_utils.h>
#include <ogr_api.h>
#include <ogr_spatialref.h>
#include <ogr_srs_api.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <sys/stat.h>
#include <vector>

namespace atrous
{

namespace
{

namespace fs = std::filesystem;
constexpr const char* where = "export";

// --- the HDF5 output as a read-only GDAL dataset ------------------------------------------------

/// Distinct colours for classes 1, 2, ... (class 0, the background, is grey; nodata transparent).
constexpr std::array<std::array<short, 3>, 10> palette = {{{128, 128, 128},
                                                           {230, 25, 75},
                                                           {60, 180, 75},
                                                           {255, 225, 25},
                                                           {0, 130, 200},
                                                           {245, 130, 48},
                                                           {145, 30, 180},
                                                           {70, 240, 240},
                                                           {240, 50, 230},
                                                           {210, 245, 60}}};

std::string class_name(int c, int classes)
{
    if (c == 0)
        return "background";
    if (classes <= 1)
        return "foreground";
    return "class " + std::to_string(c);
}

class OutputRaster;

/// One band of an OutputDataset; blocks are windows read from the HDF5 file.
class OutputBand final : public GDALRasterBand
{
public:
    OutputBand(OutputRaster& ds, int band, int block);
    CPLErr IReadBlock(int block_x, int block_y, void* image) override;
    double GetNoDataValue(int* ok) override;
    GDALColorInterp GetColorInterpretation() override;
    GDALColorTable* GetColorTable() override;
    char** GetCategoryNames() override;
    GDALRasterAttributeTable* GetDefaultRAT() override;
    double GetScale(int* ok) override;
    double GetOffset(int* ok) override;

private:
    OutputRaster& m_raster;
    std::unique_ptr<GDALColorTable> m_colors;
    CPLStringList m_names;
    std::unique_ptr<GDALDefaultRasterAttributeTable> m_rat;
};

/// A dataset of the output (labels or probabilities) as a GDAL dataset, for GDAL's translators.
class OutputRaster final : public GDALDataset
{
public:
    OutputRaster(const OutputFile& file, const OutputDataset& d, int block)
        : m_file(file), m_d(d), m_labels(&d == &file.labels())
    {
        nRasterXSize = d.width;
        nRasterYSize = d.height;
        eAccess = GA_ReadOnly;
        if (!file.crs_wkt().empty())
        {
            m_srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
            m_has_srs = m_srs.importFromWkt(file.crs_wkt().c_str()) == OGRERR_NONE;
        }
        for (int b = 1; b <= d.bands; ++b)
            SetBand(b, new OutputBand(*this, b, block));
    }
    CPLErr GetGeoTransform(double* gt) override
    {
        if (!m_file.geotransform())
            return GDALDataset::GetGeoTransform(gt);
        std::copy(m_file.geotransform()->begin(), m_file.geotransform()->end(), gt);
        return CE_None;
    }
    const OGRSpatialReference* GetSpatialRef() const override
    {
        return m_has_srs ? &m_srs : nullptr;
    }
    const OutputFile& file() const { return m_file; }
    const OutputDataset& data() const { return m_d; }
    bool labels() const { return m_labels; }
    std::mutex& reads() { return m_reads; }

private:
    const OutputFile& m_file;
    const OutputDataset& m_d;
    bool m_labels;
    OGRSpatialReference m_srs;
    bool m_has_srs = false;
    std::mutex m_reads; // HDF5 is not thread-safe
};

OutputBand::OutputBand(OutputRaster& ds, int band, int block) : m_raster(ds)
{
    poDS = &ds;
    nBand = band;
    eDataType = ds.data().float32 ? GDT_Float32 : GDT_Byte;
    nBlockXSize = std::min(block, ds.GetRasterXSize());
    nBlockYSize = std::min(block, ds.GetRasterYSize());
    if (!ds.labels())
    {
        SetDescription(("class " + std::to_string(band - 1)).c_str());
        return;
    }
    // Labels: a colour per class, nodata transparent; names and colours in a RAT too.
    const int classes = std::max(ds.file().classes(), 2);
    m_colors = std::make_unique<GDALColorTable>();
    m_rat = std::make_unique<GDALDefaultRasterAttributeTable>();
    m_rat->CreateColumn("value", GFT_Integer, GFU_MinMax);
    m_rat->CreateColumn(schema::class_field, GFT_String, GFU_Name);
    m_rat->CreateColumn("red", GFT_Integer, GFU_Red);
    m_rat->CreateColumn("green", GFT_Integer, GFU_Green);
    m_rat->CreateColumn("blue", GFT_Integer, GFU_Blue);
    for (int c = 0; c < std::min(classes, 255); ++c)
    {
        const auto& rgb = palette[static_cast<std::size_t>(c) % palette.size()];
        const GDALColorEntry entry{rgb[0], rgb[1], rgb[2], 255};
        m_colors->SetColorEntry(c, &entry);
        const std::string name = class_name(c, ds.file().classes());
        m_names.AddString(name.c_str());
        m_rat->SetValue(c, 0, c);
        m_rat->SetValue(c, 1, name.c_str());
        for (int k = 0; k < 3; ++k)
            m_rat->SetValue(c, 2 + k, rgb[static_cast<std::size_t>(k)]);
    }
    const GDALColorEntry none{0, 0, 0, 0};
    for (int c = std::min(classes, 255); c <= 255; ++c)
        m_colors->SetColorEntry(c, &none);
}

CPLErr OutputBand::IReadBlock(int block_x, int block_y, void* image)
{
    const int x = block_x * nBlockXSize;
    const int y = block_y * nBlockYSize;
    const int w = std::min(nBlockXSize, nRasterXSize - x);
    const int h = std::min(nBlockYSize, nRasterYSize - y);
    const OutputDataset& d = m_raster.data();
    const std::size_t value = d.float32 ? sizeof(float) : 1;
    std::vector<unsigned char> window(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) *
                                      value);
    try
    {
        const std::lock_guard lock(m_raster.reads());
        if (d.float32)
            m_raster.file().read(d, nBand - 1, x, y, w, h, reinterpret_cast<float*>(window.data()));
        else
            m_raster.file().read(d, nBand - 1, x, y, w, h, window.data());
    }
    catch (const std::exception& e)
    {
        CPLError(CE_Failure, CPLE_FileIO, "%s", e.what());
        return CE_Failure;
    }
    auto* out = static_cast<unsigned char*>(image);
    const std::size_t row = static_cast<std::size_t>(w) * value;
    const std::size_t stride = static_cast<std::size_t>(nBlockXSize) * value;
    for (int j = 0; j < h; ++j)
        std::memcpy(out + static_cast<std::size_t>(j) * stride,
                    window.data() + static_cast<std::size_t>(j) * row, row);
    return CE_None;
}

double OutputBand::GetNoDataValue(int* ok)
{
    if (ok != nullptr)
        *ok = TRUE;
    return m_raster.data().float32 ? std::numeric_limits<double>::quiet_NaN()
                                   : static_cast<double>(schema::nodata_u8);
}

GDALColorInterp OutputBand::GetColorInterpretation()
{
    return m_colors ? GCI_PaletteIndex : GCI_GrayIndex;
}

GDALColorTable* OutputBand::GetColorTable()
{
    return m_colors.get();
}

char** OutputBand::GetCategoryNames()
{
    return m_colors ? m_names.List() : nullptr;
}

GDALRasterAttributeTable* OutputBand::GetDefaultRAT()
{
    return m_rat.get();
}

double OutputBand::GetScale(int* ok)
{
    const bool scaled = !m_raster.labels() && !m_raster.data().float32;
    if (ok != nullptr)
        *ok = scaled ? TRUE : FALSE;
    return scaled ? schema::u8_probability_scale : 1.0;
}

double OutputBand::GetOffset(int* ok)
{
    if (ok != nullptr)
        *ok = FALSE;
    return 0.0;
}

using RasterPtr = gdal::DatasetObject<GDALDataset>;

// --- safe destinations --------------------------------------------------------------------------
// GDAL creates the files itself, so they are made in a private directory and moved into place
// under the rules of stages/write/safe_file (identity by device + inode, regular files only).

using safe_file::FileId;

fs::path parent_of(const fs::path& path)
{
    return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

/// Refuses a destination that is a link, a directory (unless `directory` and absent), a device,
/// FIFO or socket, or the input itself. Returns whether it exists.
bool check_destination(const fs::path& dest, const FileId& input, bool directory = false)
{
    const fs::path dir = parent_of(dest);
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw OutputError(where, dir.string() + ": no such directory");
    const safe_file::Entry e = safe_file::entry(dest);
    using Kind = safe_file::Entry::Kind;
    if (e.kind == Kind::absent)
        return false;
    if (e.id == input)
        throw ConfigError(where, dest.string() + ": is the input file");
    if (e.kind == Kind::symlink)
        throw OutputError(where, dest.string() +
                                     ": is a symbolic link; not replaced (remove it or choose "
                                     "another name)");
    if (e.kind == Kind::directory)
        throw OutputError(where, dest.string() +
                                     (directory ? ": exists; not replaced" : ": is a directory"));
    if (e.kind != Kind::regular)
        throw OutputError(where,
                          dest.string() + ": not a regular file (" + e.what + "); not replaced");
    if (directory)
        throw OutputError(where, dest.string() + ": exists as a file; not replaced");
    return true;
}

/// A private directory (mode 0700, random name) beside a destination: GDAL writes there (its
/// sidecars and temporary files too) and nobody else can plant a name in it. Removed with what
/// is left in it.
class StagingDir
{
public:
    explicit StagingDir(const fs::path& dest) : m_dest(dest)
    {
        std::string name =
            (parent_of(dest) / ("." + dest.filename().string() + ".atrous-XXXXXX")).string();
        if (::mkdtemp(name.data()) == nullptr)
            throw OutputError(where,
                              parent_of(dest).string() +
                                  ": cannot create a temporary directory: " + std::strerror(errno));
        m_dir = name;
        m_work = m_dir / "work";
        std::error_code ec;
        fs::create_directory(m_work, ec);
        if (ec)
            throw OutputError(where, m_work.string() + ": " + ec.message());
    }
    ~StagingDir()
    {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }
    StagingDir(const StagingDir&) = delete;
    StagingDir& operator=(const StagingDir&) = delete;

    /// Where GDAL writes the destination.
    fs::path staged() const { return m_dir / m_dest.filename(); }
    /// For intermediate files (never published).
    fs::path work(const char* name) const { return m_work / name; }

    /// Moves every file GDAL made (the destination last) beside the destination, each checked
    /// like the destination; a name that did not exist is never replaced by a race.
    void publish(const FileId& input)
    {
        std::vector<fs::directory_entry> entries;
        for (const auto& e : fs::directory_iterator(m_dir))
        {
            if (e.path() != m_work)
                entries.push_back(e);
        }
        std::stable_partition(entries.begin(), entries.end(),
                              [&](const fs::directory_entry& e)
                              { return e.path().filename() != m_dest.filename(); });
        std::vector<bool> exists;
        for (const auto& e : entries)
            exists.push_back(check_destination(parent_of(m_dest) / e.path().filename(), input,
                                               e.is_directory()));
        for (std::size_t i = 0; i < entries.size(); ++i)
        {
            const fs::path from = entries[i].path();
            const fs::path to = parent_of(m_dest) / from.filename();
            int rc = exists[i] ? std::rename(from.c_str(), to.c_str())
                               : ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(),
                                             RENAME_NOREPLACE);
            if (rc != 0 && !exists[i] && (errno == EINVAL || errno == ENOSYS))
                rc = std::rename(from.c_str(), to.c_str()); // file system without NOREPLACE
            if (rc != 0)
                throw OutputError(where, to.string() +
                                             ": cannot move into place: " + std::strerror(errno));
        }
    }

private:
    fs::path m_dest;
    fs::path m_dir;
    fs::path m_work;
};

// --- GDAL's translators -------------------------------------------------------------------------

/// --config KEY VALUE for the export's duration.
class ConfigOptions
{
public:
    explicit ConfigOptions(const std::vector<std::pair<std::string, std::string>>& options)
    {
        for (const auto& [key, value] : options)
        {
            const char* old = CPLGetConfigOption(key.c_str(), nullptr);
            m_saved.emplace_back(key,
                                 old != nullptr ? std::optional<std::string>(old) : std::nullopt);
            CPLSetConfigOption(key.c_str(), value.c_str());
        }
    }
    ~ConfigOptions()
    {
        for (auto it = m_saved.rbegin(); it != m_saved.rend(); ++it)
            CPLSetConfigOption(it->first.c_str(), it->second ? it->second->c_str() : nullptr);
    }
    ConfigOptions(const ConfigOptions&) = delete;
    ConfigOptions& operator=(const ConfigOptions&) = delete;

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> m_saved;
};

/// The driver named, or the first that can write `path`'s extension, or `fallback`.
std::string resolve_format(const std::string& given, const fs::path& path, bool raster,
                           const char* fallback, const char* option)
{
    if (!given.empty())
    {
        GDALDriverH d = GDALGetDriverByName(given.c_str());
        if (d == nullptr || GDALGetMetadataItem(d, raster ? GDAL_DCAP_RASTER : GDAL_DCAP_VECTOR,
                                                nullptr) == nullptr)
            throw ConfigError(where, std::string(option) + " " + given + ": GDAL has no " +
                                         (raster ? "raster" : "vector") + " driver of that name");
        return GDALGetDriverShortName(d);
    }
    std::string ext = path.extension().string();
    if (!ext.empty())
        ext.erase(0, 1);
    for (int i = 0; !ext.empty() && i < GDALGetDriverCount(); ++i)
    {
        GDALDriverH d = GDALGetDriver(i);
        if (GDALGetMetadataItem(d, raster ? GDAL_DCAP_RASTER : GDAL_DCAP_VECTOR, nullptr) ==
                nullptr ||
            (GDALGetMetadataItem(d, GDAL_DCAP_CREATE, nullptr) == nullptr &&
             (!raster || GDALGetMetadataItem(d, GDAL_DCAP_CREATECOPY, nullptr) == nullptr)))
            continue;
        const char* exts = GDALGetMetadataItem(d, GDAL_DMD_EXTENSIONS, nullptr);
        const CPLStringList list(CSLTokenizeString(exts != nullptr ? exts : ""));
        for (int k = 0; k < list.size(); ++k)
        {
            if (EQUAL(list[k], ext.c_str()))
                return GDALGetDriverShortName(d);
        }
    }
    return fallback;
}

/// NAME=VALUE options: `defaults` first, each replaced by a user option of the same name.
std::vector<std::string> merge_options(std::vector<std::string> defaults,
                                       const std::vector<std::string>& user, const char* option)
{
    const auto name_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
    for (const std::string& kv : user)
    {
        if (kv.find('=') == std::string::npos || kv.front() == '=')
            throw ConfigError(where, std::string(option) + " '" + kv + "': NAME=VALUE expected");
        defaults.erase(std::remove_if(defaults.begin(), defaults.end(),
                                      [&](const std::string& d)
                                      { return EQUAL(name_of(d).c_str(), name_of(kv).c_str()); }),
                       defaults.end());
        defaults.push_back(kv);
    }
    return defaults;
}

std::optional<std::string> option_value(const std::vector<std::string>& options, const char* name)
{
    for (const std::string& kv : options)
    {
        if (EQUAL(kv.substr(0, kv.find('=')).c_str(), name))
            return kv.substr(kv.find('=') + 1);
    }
    return std::nullopt;
}

/// GDAL's message with the staged path shown as the destination.
std::string tidy(std::string message, const fs::path& staged, const fs::path& shown)
{
    const std::string from = staged.string();
    for (std::size_t at = message.find(from); !from.empty() && at != std::string::npos;
         at = message.find(from, at + shown.string().size()))
        message.replace(at, from.size(), shown.string());
    return message;
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

/// `raster` -> `path` through GDALTranslate (then GTiff overviews).
std::string write_raster(OutputRaster& raster, const ExportOptions& o, const fs::path& path,
                         const fs::path& shown, spdlog::logger& log)
{
    const std::string format =
        resolve_format(o.cog ? std::string("COG") : o.raster_format, o.to, true, "GTiff", "-of");
    const bool labels = raster.labels();
    const std::string block = std::to_string(o.block);
    std::vector<std::string> defaults;
    if (EQUAL(format.c_str(), "GTiff"))
    {
        defaults = {"TILED=YES", "BLOCKXSIZE=" + block, "BLOCKYSIZE=" + block, "COMPRESS=DEFLATE",
                    "BIGTIFF=IF_SAFER"};
        if (raster.GetRasterCount() > 1)
            defaults.push_back("INTERLEAVE=BAND");
    }
    else if (EQUAL(format.c_str(), "COG"))
    {
        defaults = {"COMPRESS=DEFLATE", "BLOCKSIZE=" + block,
                    std::string("RESAMPLING=") + (labels ? "NEAREST" : "AVERAGE"),
                    "BIGTIFF=IF_SAFER"};
    }
    const std::vector<std::string> co = merge_options(defaults, o.creation_options, "-co");
    CPLStringList argv;
    argv.AddString("-of");
    argv.AddString(format.c_str());
    for (const std::string& kv : co)
    {
        argv.AddString("-co");
        argv.AddString(kv.c_str());
    }
    GdalErrorCollector errors;
    GDALTranslateOptions* options = GDALTranslateOptionsNew(argv.List(), nullptr);
    if (options == nullptr)
        throw ConfigError(where, "-of/-co: " + errors.message("GDAL refused the options"));
    int usage_error = FALSE;
    gdal::Dataset out(
        GDALTranslate(path.c_str(), GDALDataset::ToHandle(&raster), options, &usage_error));
    GDALTranslateOptionsFree(options);
    if (!out)
    {
        if (usage_error)
            throw ConfigError(where, "-of/-co: " + errors.message("GDAL refused the options"));
        throw OutputError(where, shown.string() + ": " +
                                     tidy(errors.message(format + " failed"), path, shown));
    }
    // What a format cannot hold (a colour table in Zarr) is a warning, not a failed export.
    if (errors.failed())
        log.warn("export: {}: {} (written without it)", shown.string(),
                 tidy(errors.message(""), path, shown));
    errors.clear();
    out.reset(); // GDALClose flushes: a failure is in `errors`
    if (errors.failed())
        throw OutputError(where, shown.string() + ": " + errors.message("close failed"));
    if (EQUAL(format.c_str(), "GTiff"))
    {
        // Overviews down to one tile of the file's own block size (-co BLOCKXSIZE may change it).
        const int asked = std::atoi(option_value(co, "BLOCKXSIZE").value_or(block).c_str());
        const int edge = asked > 0 ? asked : o.block;
        std::vector<int> factors =
            overview_factors(raster.GetRasterXSize(), raster.GetRasterYSize(), edge);
        if (!factors.empty())
        {
            gdal::Dataset ds(GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE, nullptr,
                                        nullptr, nullptr));
            if (!ds)
                throw OutputError(where, shown.string() + ": " + errors.message("cannot reopen"));
            const CPLErr err = GDALBuildOverviews(ds.get(), labels ? "NEAREST" : "AVERAGE",
                                                  static_cast<int>(factors.size()), factors.data(),
                                                  0, nullptr, nullptr, nullptr);
            ds.reset();
            if (err != CE_None || errors.failed())
                throw OutputError(where,
                                  shown.string() + ": overviews: " + errors.message("failed"));
        }
    }
    return format;
}

/// The labels -> polygons (GDALPolygonize into a work GeoPackage) -> `path` (GDALVectorTranslate).
std::string write_polygons(OutputRaster& mask, const ExportOptions& o, const StagingDir& staging,
                           const fs::path& path, const fs::path& shown)
{
    const std::string format = resolve_format(o.vector_format, o.polygons, false, "GPKG", "-f");
    GdalErrorCollector errors;
    const fs::path work = staging.work("polygons.gpkg");
    GDALDriverH gpkg = GDALGetDriverByName("GPKG");
    if (gpkg == nullptr)
        throw OutputError(where, "GDAL has no GPKG driver");
    GDALDatasetH tmp = GDALCreate(gpkg, work.c_str(), 0, 0, 0, GDT_Unknown, nullptr);
    if (tmp == nullptr)
        throw OutputError(where, work.string() + ": " + errors.message("cannot create"));
    const gdal::Dataset tmp_owner(tmp);
    OGRSpatialReferenceH srs = nullptr;
    if (mask.GetSpatialRef() != nullptr)
        srs = OGRSpatialReference::ToHandle(mask.GetSpatialRef()->Clone());
    OGRLayerH layer = GDALDatasetCreateLayer(tmp, schema::mask, srs, wkbPolygon, nullptr);
    if (srs != nullptr)
        OSRRelease(srs);
    if (layer == nullptr)
        throw OutputError(where, work.string() + ": " + errors.message("cannot create layer"));
    OGRFieldDefnH field = OGR_Fld_Create(schema::class_field, OFTInteger);
    const OGRErr field_err = OGR_L_CreateField(layer, field, TRUE);
    OGR_Fld_Destroy(field);
    if (field_err != OGRERR_NONE)
        throw OutputError(where, work.string() + ": " + errors.message("cannot create field"));
    GDALRasterBandH band = GDALGetRasterBand(GDALDataset::ToHandle(&mask), 1);
    GDALDatasetStartTransaction(tmp, FALSE);
    // The mask band excludes nodata (255): those pixels form no polygon.
    if (GDALPolygonize(band, GDALGetMaskBand(band), layer, 0, nullptr, nullptr, nullptr) != CE_None)
        throw OutputError(where, shown.string() + ": polygonize: " + errors.message("failed"));
    if (GDALDatasetCommitTransaction(tmp) != OGRERR_NONE)
        throw OutputError(where, work.string() + ": " + errors.message("commit failed"));

    CPLStringList argv;
    argv.AddString("-f");
    argv.AddString(format.c_str());
    argv.AddString("-nln");
    argv.AddString(schema::mask);
    for (const std::string& kv : merge_options({}, o.layer_options, "-lco"))
    {
        argv.AddString("-lco");
        argv.AddString(kv.c_str());
    }
    for (const std::string& kv : merge_options({}, o.dataset_options, "-dsco"))
    {
        argv.AddString("-dsco");
        argv.AddString(kv.c_str());
    }
    if (o.skip_background)
    {
        argv.AddString("-where");
        argv.AddString((std::string(schema::class_field) + " <> 0").c_str());
    }
    GDALVectorTranslateOptions* options = GDALVectorTranslateOptionsNew(argv.List(), nullptr);
    if (options == nullptr)
        throw ConfigError(where, "-f/-lco/-dsco: " + errors.message("GDAL refused the options"));
    int usage_error = FALSE;
    gdal::Dataset out(GDALVectorTranslate(path.c_str(), nullptr, 1, &tmp, options, &usage_error));
    GDALVectorTranslateOptionsFree(options);
    if (!out)
    {
        if (usage_error)
            throw ConfigError(where,
                              "-f/-lco/-dsco: " + errors.message("GDAL refused the options"));
        throw OutputError(where, shown.string() + ": " +
                                     tidy(errors.message(format + " failed"), path, shown));
    }
    out.reset();
    if (errors.failed())
        throw OutputError(where, shown.string() + ": " + errors.message("close failed"));
    return format;
}

} // namespace

void export_output(const ExportOptions& o, spdlog::logger& log)
{
    if (o.what != schema::mask && o.what != schema::probability)
        throw ConfigError(where, "--what: '" + o.what + "' given, mask or probability expected");
    if (o.to.empty() && o.polygons.empty())
        throw ConfigError(where, "nothing to do: give --to and/or --polygons");
    if (o.block < 16 || o.block % 16 != 0)
        throw ConfigError(where,
                          "block " + std::to_string(o.block) + ": a multiple of 16 expected");
    if (o.cog && !o.raster_format.empty() && !EQUAL(o.raster_format.c_str(), "COG"))
        throw ConfigError(where, "--cog and -of " + o.raster_format + ": give one");
    std::error_code ec;
    if (!o.to.empty() && !o.polygons.empty() &&
        fs::weakly_canonical(o.to, ec) == fs::weakly_canonical(o.polygons, ec))
        throw ConfigError(where, o.to.string() + ": given as both --to and --polygons");
    gdal_register_once();
    const ConfigOptions config(o.config);
    const OutputFile file(o.input);
    const FileId input = safe_file::identity(o.input).value_or(FileId{});
    if (file.tiles_total() > 0 && file.tiles_done() < file.tiles_total())
    {
        const std::string state =
            fmt::format("incomplete: {} of {} tiles done", file.tiles_done(), file.tiles_total());
        if (!o.allow_partial)
            throw InputError(o.input.string(),
                             state + "; finish it with `atrous run` (same configuration) or "
                                     "export it anyway with --allow-partial");
        log.warn("export: {}: {}; unwritten tiles are nodata", o.input.string(), state);
    }
    if (!o.to.empty())
        check_destination(o.to, input);
    if (!o.polygons.empty())
        check_destination(o.polygons, input);

    const OutputDataset* d = &file.labels();
    if (o.what == schema::probability)
    {
        if (!file.probabilities())
            throw InputError(
                o.input.string(),
                "no probabilities (/" +
                    std::string(file.spatial() ? schema::probability : schema::class_probability) +
                    "): run with output.probabilities: uint8 or float32");
        d = &*file.probabilities();
    }

    if (!o.to.empty())
    {
        StagingDir staging(o.to);
        RasterPtr raster(new OutputRaster(file, *d, o.block));
        const std::string format =
            write_raster(static_cast<OutputRaster&>(*raster), o, staging.staged(), o.to, log);
        staging.publish(input);
        log.info("export: wrote {} ({}, {} x {}, {} band{}, {})", o.to.string(), format, d->width,
                 d->height, d->bands, d->bands == 1 ? "" : "s", d->float32 ? "float32" : "uint8");
    }
    if (!o.polygons.empty())
    {
        StagingDir staging(o.polygons);
        RasterPtr mask(new OutputRaster(file, file.labels(), o.block));
        const std::string format = write_polygons(static_cast<OutputRaster&>(*mask), o, staging,
                                                  staging.staged(), o.polygons);
        staging.publish(input);
        log.info("export: wrote {} ({}, layer mask, field class{})", o.polygons.string(), format,
                 o.skip_background ? ", class 0 skipped" : "");
    }
}

} // namespace atrous
