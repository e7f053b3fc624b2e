// SPDX-License-Identifier: Apache-2.0
// Purpose: builds the run fingerprint from the input's files (size and time of the file and of
// every member GDAL lists, a sample of their bytes), the plan and the normalized configuration
// (flattened YAML).
#include "fingerprint.hpp"

#include "pipeline/sha256.hpp"
#include "platform/gdal_dataset.hpp"
#include "stages/read/gdal_error.hpp"
#include "stages/read/gdal_path.hpp"

#include <cpl_string.h>
#include <cpl_vsi.h>
#include <fmt/format.h>
#include <gdal.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <memory>

namespace atrous
{
namespace
{

bool excluded(const std::string& key)
{
    // tile.stream_strip cuts the stream's work differently, not its bytes (every strip width
    // gives the whole-image pass's: tests/e2e/stream_test.py stream_strips resumes with another).
    static const std::array<const char*, 5> keys{"output.path", "output.compression",
                                                 "output.compression_level", "model.weights",
                                                 "tile.stream_strip"};
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
    const std::optional<FileStat> st = stat_file(path);
    if (!st)
        return "missing";
    return fmt::format("{} bytes, modified {}", st->size, st->modified);
}

bool ends_with_nocase(std::string_view s, std::string_view tail)
{
    return s.size() >= tail.size() &&
           std::equal(tail.begin(), tail.end(), s.end() - static_cast<std::ptrdiff_t>(tail.size()),
                      [](unsigned char a, unsigned char b)
                      { return std::tolower(a) == std::tolower(b); });
}

/// The file whose bytes stand for `path`'s: a member of a compressed archive
/// (/vsigzip/x.gz, /vsizip/a.zip/b.tif) is sampled in its archive, as reaching the end of a
/// deflated stream means inflating all of it; a changed member changes the archive's bytes.
std::string sample_source(const std::string& path)
{
    const std::string_view gz = "/vsigzip/";
    if (path.rfind(gz, 0) == 0)
        return path.substr(gz.size());
    const std::string_view zip = "/vsizip/";
    if (path.rfind(zip, 0) != 0)
        return path;
    const std::string rest = path.substr(zip.size());
    if (!rest.empty() && rest.front() == '{') // /vsizip/{archive}/member
    {
        const auto close = rest.find('}');
        return close == std::string::npos ? path : rest.substr(1, close - 1);
    }
    for (std::size_t slash = rest.find('/');; slash = rest.find('/', slash + 1))
    {
        const std::string head = rest.substr(0, slash);
        if (ends_with_nocase(head, ".zip"))
            return head;
        if (slash == std::string::npos)
            return path;
    }
}

} // namespace

std::vector<std::pair<std::uint64_t, std::size_t>> sample_ranges(std::uint64_t size, int count)
{
    const std::uint64_t whole = static_cast<std::uint64_t>(count) * sample_range_bytes;
    if (size <= whole || count < 2)
        return {{0, static_cast<std::size_t>(std::min(size, whole))}};
    std::vector<std::pair<std::uint64_t, std::size_t>> out;
    // Spacing >= one range, so the ranges are disjoint. All but the last start at a multiple of
    // the range size: GDAL's /vsicurl/ fetches whole chunks of that size, one per range.
    const std::uint64_t last = size - sample_range_bytes;
    const std::uint64_t step = last / static_cast<std::uint64_t>(count - 1);
    for (int i = 0; i + 1 < count; ++i)
        out.emplace_back(step * static_cast<std::uint64_t>(i) / sample_range_bytes *
                             sample_range_bytes,
                         sample_range_bytes);
    out.emplace_back(last, sample_range_bytes);
    return out;
}

std::string content_sample(const std::string& path, int ranges)
{
    gdal_register_once();
    const std::string source = sample_source(path);
    GdalErrorCollector errors;
    VSIStatBufL st{};
    if (VSIStatExL(source.c_str(), &st, VSI_STAT_EXISTS_FLAG | VSI_STAT_SIZE_FLAG) != 0)
        return "not a file";
    const auto size = static_cast<std::uint64_t>(st.st_size);
    Sha256 h;
    h.update(fmt::format("{} bytes\n", size));
    if (size == 0)
        return h.hex_digest();
    const auto plan = sample_ranges(size, ranges);
    std::vector<std::vector<char>> buffers;
    std::vector<void*> data;
    std::vector<vsi_l_offset> offsets;
    std::vector<std::size_t> sizes;
    for (const auto& [offset, length] : plan)
    {
        buffers.emplace_back(length);
        data.push_back(buffers.back().data());
        offsets.push_back(offset);
        sizes.push_back(length);
    }
    const auto close = [](VSILFILE* f) { VSIFCloseL(f); };
    std::unique_ptr<VSILFILE, decltype(close)> file(VSIFOpenExL(source.c_str(), "rb", TRUE), close);
    // One batch: over HTTP (/vsicurl/, /vsis3/, ...) GDAL fetches the ranges in parallel.
    if (!file || VSIFReadMultiRangeL(static_cast<int>(plan.size()), data.data(), offsets.data(),
                                     sizes.data(), file.get()) != 0)
        return "unreadable: " + errors.message("read failed");
    for (std::size_t i = 0; i < plan.size(); ++i)
    {
        h.update(fmt::format("{}+{}\n", offsets[i], sizes[i]));
        h.update(data[i], sizes[i]);
    }
    return h.hex_digest();
}

namespace
{

int ranges_per_file(std::size_t files)
{
    return static_cast<int>(std::clamp<std::size_t>(
        sample_ranges_total / std::max<std::size_t>(files, 1), 2, sample_ranges_per_file));
}

} // namespace

std::vector<std::string> input_member_files(const std::string& path)
{
    gdal_register_once();
    GdalErrorCollector quiet; // an input the reader opened opens here too; else no members
    const gdal::Dataset ds(
        GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
    if (!ds)
        return {};
    std::vector<std::string> out;
    char** files = GDALGetFileList(ds.get());
    namespace fs = std::filesystem;
    // Absolute: the same run started from another directory has the same fields. /vsi names
    // stay as GDAL spells them (canonicalizing "/vsicurl/https://" would merge its slashes).
    const auto absolute = [](const std::string& file)
    {
        if (is_gdal_virtual_path(file))
            return file;
        std::error_code ec;
        const fs::path canonical = fs::weakly_canonical(file, ec);
        return ec ? file : canonical.string();
    };
    const std::string self = absolute(path);
    for (char** f = files; f != nullptr && *f != nullptr; ++f)
    {
        const std::string file = *f;
        if (file.size() >= 8 && file.compare(file.size() - 8, 8, ".aux.xml") == 0)
            continue; // GDAL's own metadata sidecar, not pixels (gdalinfo -stats writes it)
        const std::string name = absolute(file);
        if (name == self)
            continue;
        if (std::find(out.begin(), out.end(), name) == out.end())
            out.push_back(name);
    }
    CSLDestroy(files);
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

void add_sample_fields(const std::string& input, const std::vector<std::string>& members,
                       std::size_t max_listed, Fingerprint& f)
{
    if (members.size() <= max_listed)
    {
        const int ranges = ranges_per_file(1 + members.size());
        f.emplace_back("input.sample " + input, content_sample(input, ranges));
        for (const std::string& m : members)
            f.emplace_back("input.sample " + m, content_sample(m, ranges));
        return;
    }
    // Thousands of members (a VRT over a tiled archive): the input and an evenly spread subset,
    // two ranges each, so the cost stays bounded; the others are covered by size and time.
    const int ranges = 2;
    const std::size_t sampled =
        std::min(members.size(), static_cast<std::size_t>(sample_ranges_total / ranges));
    f.emplace_back("input.sample " + input, content_sample(input, ranges));
    Sha256 h;
    for (std::size_t i = 0; i < sampled; ++i)
    {
        const std::string& m = members[i * members.size() / sampled];
        h.update(m + "\t" + content_sample(m, ranges) + "\n");
    }
    f.emplace_back("input.members.sample", h.hex_digest());
}

Fingerprint make_fingerprint(const RunConfig& effective, const RasterInfo& info,
                             const std::string& model_sha256, const TilePlan& plan)
{
    Fingerprint f;
    const std::optional<FileStat> st = stat_file(info.path);
    f.emplace_back("input.file", st ? fmt::format("{} bytes, modified {}", st->size, st->modified)
                                    : "not a file");
    const std::vector<std::string> members = input_member_files(info.path);
    add_member_fields(members, max_listed_members, f);
    add_sample_fields(info.path, members, max_listed_members, f);
    f.emplace_back("input.raster",
                   fmt::format("{} x {} px, {} bands", info.width, info.height, info.bands));
    f.emplace_back("model.sha256", model_sha256);
    f.emplace_back("tile.grid",
                   fmt::format("tile {} px, halo {} px, {} x {} tiles", plan.tile_size(),
                               plan.halo_px(), plan.columns(), plan.rows()));
    flatten(YAML::Load(effective.normalized_yaml()), "", f);
    // bf16 results depend on the scheme, not only on the key: a partial file written by an
    // atrous whose bf16 convolutions ran otherwise (the plain bf16 GEMM before the Winograd
    // scheme) must not be finished with today's numbers.
    if (effective.model.precision == infer::Precision::bf16)
        f.emplace_back("numerics.bf16", "Winograd F(2x2,3x3)/F(2x2,2x2) where crops keep its "
                                        "tile grid, else GEMM; bf16 operands, fp32 sums");
    return f;
}

} // namespace atrous
