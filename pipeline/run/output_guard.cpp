// SPDX-License-Identifier: Apache-2.0
// Purpose: output_guard: the run's created files against the files it reads, by device + inode.
#include "output_guard.hpp"

#include "pipeline/products/preview.hpp"
#include "pipeline/products/run_report.hpp"
#include "platform/gdal_dataset.hpp"
#include "stages/error.hpp"
#include "stages/read/gdal_error.hpp"
#include "stages/write/hdf5_writer.hpp"

#include <cpl_string.h>
#include <gdal.h>

namespace atrous
{

namespace fs = std::filesystem;

const safe_file::Recognizer& json_leftover()
{
    static const safe_file::Recognizer ours = safe_file::empty_or_starting_with("{");
    return ours;
}

const safe_file::Recognizer& png_leftover()
{
    static const safe_file::Recognizer ours =
        safe_file::empty_or_starting_with(std::string(safe_file::png_signature));
    return ours;
}

std::vector<NamedFile> files_created_by_run(const fs::path& output, bool preview)
{
    std::vector<NamedFile> out;
    const std::vector<fs::path> writer = Hdf5Writer::files_of(output);
    out.push_back({writer.at(0), "the output"});
    for (std::size_t i = 1; i < writer.size(); ++i)
        out.push_back({writer[i], "a file of the output"});
    const fs::path report = default_report_path(output);
    out.push_back({report, "its run report"});
    out.push_back({report.string() + ".partial", "its run report"});
    if (preview)
    {
        const fs::path png = default_preview_path(output);
        const std::string remedy = "choose another output.path or run with --no-preview";
        out.push_back({png, "its quick-look PNG", remedy});
        out.push_back({png.string() + ".partial", "its quick-look PNG", remedy});
    }
    return out;
}

std::vector<NamedFile> files_read_by_run(const std::string& input, const fs::path& model)
{
    std::vector<NamedFile> out{{input, "the input"}};
    gdal_register_once();
    {
        GdalErrorCollector quiet; // the reader opened it already; else nothing more to list
        const gdal::Dataset ds(GDALOpenEx(input.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr,
                                          nullptr, nullptr));
        if (ds)
        {
            char** files = GDALGetFileList(ds.get());
            for (char** f = files; f != nullptr && *f != nullptr; ++f)
                out.push_back({*f, "a file of the input"});
            CSLDestroy(files);
        }
    }
    if (!model.empty())
        out.push_back({model, "the model"});
    return out;
}

void refuse_overwriting(const std::vector<NamedFile>& created, const std::vector<NamedFile>& read,
                        const std::string& where)
{
    std::vector<std::pair<safe_file::FileId, const NamedFile*>> ids;
    for (const NamedFile& r : read)
        if (const auto id = safe_file::identity(r.path))
            ids.emplace_back(*id, &r);
    for (const NamedFile& c : created)
    {
        const auto id = safe_file::identity(c.path);
        if (!id)
            continue;
        for (const auto& [rid, r] : ids)
        {
            if (rid == *id)
                throw ConfigError(where, c.path.string() + " (" + c.role +
                                             ") is the same file as " + r->path.string() + " (" +
                                             r->role +
                                             "); atrous never writes a file it reads: " + c.remedy);
        }
    }
}

void check_side_files(const fs::path& output, bool preview)
{
    const fs::path report = default_report_path(output);
    safe_file::require_replaceable(report, "report");
    safe_file::require_free_or_leftover(report.string() + ".partial", json_leftover(), "report");
    if (preview)
    {
        const fs::path png = default_preview_path(output);
        safe_file::require_replaceable(png, "preview");
        safe_file::require_free_or_leftover(png.string() + ".partial", png_leftover(), "preview");
    }
}

} // namespace atrous
