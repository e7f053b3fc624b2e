// SPDX-License-Identifier: Apache-2.0
// Purpose: builds the run fingerprint from the input's files (stat of the file and of every member
// GDAL lists), the plan and the normalized configuration (flattened YAML).
#include "fingerprint.hpp"

#include "pipeline/sha256.hpp"
#include "stages/read/gdal_error.hpp"

#include <cpl_string.h>
#include <fmt/format.h>
#include <gdal.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <sys/stat.h>

namespace atrous
{
namespace
{

bool excluded(const std::string& key)
{
    static const std::array<const char*, 4> keys{"output.path", "output.compression",
                                                 "output.compression_level", "model.weights"};
    // runtime.* changes how a run goes, not its result; runtime.precision (bf16) changes the
    // numbers, so a resume must use the same.
    if ((key.rfind("runtime.", 0) == 0 && key != "runtime.precision") || key == "runtime")
        return true;
    return std::any_of(keys.begin(), keys.end(), [&](const char* k) { return key == k; });
}

void flatten(const YAML::Node& node, const std::string& prefix, Fingerprint& out)
{
    if (node.IsMap())
    {
        for (const auto& kv : node)
        {
            const std::string key = kv.first.as<std::string>();
            flatten(kv.second, prefix.empty() ? key : prefix + "." + key, out);
        }
        return;
    }
    if (excluded(prefix))
        return;
    YAML::Emitter e;
    e << YAML::Flow << node;
    out.emplace_back("config." + prefix, e.c_str());
}

std::string stat_text(const std::string& path)
{
    struct stat st
    {
    };
    if (::stat(path.c_str(), &st) != 0)
        return "missing";
    return fmt::format("{} bytes, modified {}.{:09d}", static_cast<long long>(st.st_size),
                       static_cast<long long>(st.st_mtim.tv_sec),
                       static_cast<long>(st.st_mtim.tv_nsec));
}

} // namespace

std::vector<std::string> input_member_files(const std::string& path)
{
    gdal_register_once();
    GdalErrorCollector quiet; // an input the reader opened opens here too; else no members
    GDALDatasetH ds =
        GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr);
    if (ds == nullptr)
        return {};
    std::vector<std::string> out;
    char** files = GDALGetFileList(ds);
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path self = fs::weakly_canonical(path, ec);
    for (char** f = files; f != nullptr && *f != nullptr; ++f)
    {
        const std::string file = *f;
        if (file.size() >= 8 && file.compare(file.size() - 8, 8, ".aux.xml") == 0)
            continue; // GDAL's own metadata sidecar, not pixels (gdalinfo -stats writes it)
        // Absolute: the same run started from another directory has the same fields.
        const fs::path canonical = fs::weakly_canonical(file, ec);
        const std::string name = ec ? file : canonical.string();
        if (canonical == self)
            continue;
        if (std::find(out.begin(), out.end(), name) == out.end())
            out.push_back(name);
    }
    CSLDestroy(files);
    GDALClose(ds);
    return out;
}

void add_member_fields(const std::vector<std::string>& members, std::size_t max_listed,
                       Fingerprint& f)
{
    if (members.size() <= max_listed)
    {
        for (const std::string& m : members)
            f.emplace_back("input.member " + m, stat_text(m));
        return;
    }
    Sha256 h;
    for (const std::string& m : members)
        h.update(m + "\t" + stat_text(m) + "\n");
    f.emplace_back("input.members",
                   fmt::format("{} files, sha256 of their paths, sizes and times {}",
                               members.size(), h.hex_digest()));
}

Fingerprint make_fingerprint(const RunConfig& effective, const RasterInfo& info,
                             const std::string& model_sha256, const TilePlan& plan)
{
    Fingerprint f;
    struct stat st
    {
    };
    if (::stat(info.path.c_str(), &st) == 0)
        f.emplace_back("input.file", fmt::format("{} bytes, modified {}.{:09d}",
                                                 static_cast<long long>(st.st_size),
                                                 static_cast<long long>(st.st_mtim.tv_sec),
                                                 static_cast<long>(st.st_mtim.tv_nsec)));
    else
        f.emplace_back("input.file", "not a file");
    add_member_fields(input_member_files(info.path), max_listed_members, f);
    f.emplace_back("input.raster",
                   fmt::format("{} x {} px, {} bands", info.width, info.height, info.bands));
    f.emplace_back("model.sha256", model_sha256);
    f.emplace_back("tile.grid",
                   fmt::format("tile {} px, halo {} px, {} x {} tiles", plan.tile_size(),
                               plan.halo_px(), plan.columns(), plan.rows()));
    flatten(YAML::Load(effective.normalized_yaml()), "", f);
    return f;
}

} // namespace atrous
