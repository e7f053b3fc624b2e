// SPDX-License-Identifier: Apache-2.0
// Purpose: builds the run fingerprint from the input file's stat, the plan and the normalized
// configuration (flattened YAML).
#include "fingerprint.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <sys/stat.h>

namespace atrous
{
namespace
{

bool excluded(const std::string& key)
{
    static const std::array<const char*, 4> keys{"output.path", "output.compression",
                                                 "output.compression_level", "model.weights"};
    if (key.rfind("runtime.", 0) == 0 || key == "runtime")
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

} // namespace

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
