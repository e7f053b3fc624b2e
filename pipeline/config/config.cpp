// SPDX-License-Identifier: Apache-2.0
// Purpose: YAML + --set -> RunConfig: document walk against the key table, overrides,
// cross-key checks, path resolution, the normalized YAML for provenance.
#include "config.hpp"

#include "pipeline/config/config_keys.hpp"
#include "pipeline/config/config_limits.hpp"
#include "pipeline/config/usable_cpus.hpp"
#include "stages/error.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

namespace atrous
{
namespace
{

namespace fs = std::filesystem;
using namespace config_detail;

struct Document
{
    std::string name;                // file name for messages
    fs::path base_dir;               // resolves relative paths in the file
    std::set<std::string> overrides; // keys given with --set
};

bool overridden(const Document& doc, const std::string& key)
{
    for (std::string k = key; !k.empty(); k = parent_of(k))
        if (doc.overrides.count(k))
            return true;
    return false;
}

void walk(const YAML::Node& map, const std::string& section, const Document& doc, Parsed& p)
{
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it)
    {
        const YAML::Node k = it->first;
        const std::string leaf = k.IsScalar() ? k.Scalar() : "?";
        const std::string key = section.empty() ? leaf : section + "." + leaf;
        bool from_set = overridden(doc, key);
        std::string set_key = key;
        if (!from_set && k.Mark().is_null())
        {
            // A section that only --set created ("--set foo.bar=1" makes "foo"): name that --set.
            for (const std::string& o : doc.overrides)
                if (o.starts_with(key + "."))
                {
                    set_key = o;
                    from_set = true;
                    break;
                }
        }
        const std::string loc =
            from_set ? "--set" : fmt::format("{}:{}", doc.name, k.Mark().line + 1);
        const std::string where = from_set ? "--set " + set_key : loc + " " + key;

        const Entry* entry = find_entry(key);
        if (!entry)
            throw ConfigError(where,
                              fmt::format("unknown key; expected one of {}", children_of(section)));
        if (!seen.insert(leaf).second)
            throw ConfigError(where, "duplicate key");
        p.cfg.locations[key] = loc;

        const YAML::Node v = it->second;
        if (is_section(*entry))
        {
            if (v.IsNull())
                continue;
            if (!v.IsMap())
                throw ConfigError(where, fmt::format("expected a section with keys {}, found {}",
                                                     children_of(key), Value::found(v)));
            if (key == "model.architecture")
                p.arch.present = true;
            walk(v, key, doc, p);
            continue;
        }
        entry->apply(Value(v, key, where, from_set ? fs::current_path() : doc.base_dir), p);
    }
}

void set_override(YAML::Node node, const std::vector<std::string>& parts, std::size_t i,
                  const YAML::Node& value, const std::string& key)
{
    if (i + 1 == parts.size())
    {
        node[parts[i]] = value;
        return;
    }
    YAML::Node child = node[parts[i]];
    if (!child.IsDefined() || child.IsNull())
    {
        node[parts[i]] = YAML::Node(YAML::NodeType::Map);
    }
    else if (!child.IsMap())
    {
        throw ConfigError("--set " + key,
                          fmt::format("'{}' is not a section in the file", parts[i]));
    }
    set_override(node[parts[i]], parts, i + 1, value, key);
}

void apply_overrides(YAML::Node& root, const std::vector<std::string>& overrides, Document& doc)
{
    for (const auto& o : overrides)
    {
        const auto eq = o.find('=');
        if (eq == std::string::npos || eq == 0)
            throw ConfigError("--set " + o, "expected key.path=value");
        const std::string key = o.substr(0, eq);
        std::vector<std::string> parts;
        std::stringstream ss(key);
        for (std::string part; std::getline(ss, part, '.');)
        {
            if (part.empty())
                throw ConfigError("--set " + key, "expected a dotted key such as tile.size");
            parts.push_back(part);
        }
        YAML::Node value;
        try
        {
            value = YAML::Load(o.substr(eq + 1));
        }
        catch (const YAML::Exception& e)
        {
            throw ConfigError("--set " + key, fmt::format("value is not YAML: {}", e.msg));
        }
        if (!root.IsMap())
            root = YAML::Node(YAML::NodeType::Map);
        set_override(root, parts, 0, value, key);
        doc.overrides.insert(key);
    }
}

std::string where_of(const RunConfig& c, const std::string& key)
{
    return c.where(key);
}

/// Every value must be a list of 1 or n entries; returns n (0 when none given).
std::size_t broadcast_size(const RunConfig& c,
                           const std::vector<std::pair<std::string, const std::vector<double>*>>& v)
{
    std::size_t n = 1;
    for (const auto& [key, list] : v)
        if (list)
            n = std::max(n, list->size());
    for (const auto& [key, list] : v)
        if (list && list->size() != 1 && list->size() != n)
            throw ConfigError(where_of(c, key),
                              fmt::format("expected 1 or {} values (as the other normalize "
                                          "keys), found {}",
                                          n, list->size()));
    return n;
}

/// A normalization must give the network finite float32 inputs: its scale and offset must fit
/// float32 themselves (the reader then checks them against the input's data type).
void require_float32(const RunConfig& c, const std::string& key, double given, double derived,
                     const std::string& derived_name)
{
    constexpr double limit = std::numeric_limits<float>::max();
    if (std::fabs(derived) <= limit)
        return;
    const std::string why =
        derived_name.empty() ? std::string() : fmt::format(": {} is {}", derived_name, derived);
    throw ConfigError(where_of(c, key),
                      fmt::format("found {}{}, beyond float32 (|x| <= {:g}): the network's "
                                  "inputs would not be finite",
                                  given, why, limit));
}

void finish_normalize(Parsed& p)
{
    auto& n = p.normalize;
    auto& c = p.cfg;
    const bool affine = n.scale || n.offset;
    const bool stats = n.mean || n.std;
    if (n.percentiles && n.preset != "percentile")
        throw ConfigError(where_of(c, "input.normalize.percentiles"),
                          "only with preset: percentile");
    if (n.preset)
    {
        if (affine || stats)
            throw ConfigError(where_of(c, "input.normalize.preset"),
                              fmt::format("expected either preset or numbers, found preset {} "
                                          "and {}",
                                          *n.preset, affine ? "scale/offset" : "mean/std"));
        if (*n.preset == "uint8")
        {
            c.input.normalize.push_back({1.0 / 255.0, 0.0});
            return;
        }
        const std::vector<double> q = n.percentiles.value_or(std::vector<double>{2.0, 98.0});
        if (q.size() != 2 || q[0] < 0 || q[1] > 100 || q[0] >= q[1])
            throw ConfigError(where_of(c, "input.normalize.percentiles"),
                              fmt::format("expected two numbers low < high in [0, 100], found {}",
                                          fmt::join(q, ", ")));
        c.input.percentile_stretch = std::array<double, 2>{q[0], q[1]};
        return;
    }
    if (affine && stats)
        throw ConfigError(where_of(c, n.mean ? "input.normalize.mean" : "input.normalize.std"),
                          "expected either {scale, offset} or {mean, std}, found both forms");
    if (!affine && !stats)
        return;
    auto pick = [](const std::optional<std::vector<double>>& v, std::size_t i, double dflt) {
        return !v ? dflt : v->size() == 1 ? (*v)[0] : (*v)[i];
    };
    if (affine)
    {
        const auto count =
            broadcast_size(c, {{"input.normalize.scale", n.scale ? &*n.scale : nullptr},
                               {"input.normalize.offset", n.offset ? &*n.offset : nullptr}});
        for (std::size_t i = 0; i < count; ++i)
        {
            const double scale = pick(n.scale, i, 1.0);
            const double offset = pick(n.offset, i, 0.0);
            require_float32(c, "input.normalize.scale", scale, scale, "");
            require_float32(c, "input.normalize.offset", offset, offset, "");
            c.input.normalize.push_back({scale, offset});
        }
    }
    else
    {
        const auto count = broadcast_size(c, {{"input.normalize.mean", n.mean ? &*n.mean : nullptr},
                                              {"input.normalize.std", n.std ? &*n.std : nullptr}});
        for (std::size_t i = 0; i < count; ++i)
        {
            const double sd = pick(n.std, i, 1.0);
            if (sd == 0.0)
                throw ConfigError(where_of(c, "input.normalize.std"),
                                  "expected non-zero values, found 0");
            const double mean = pick(n.mean, i, 0.0);
            require_float32(c, "input.normalize.std", sd, 1.0 / sd, "the scale 1 / std");
            require_float32(c, "input.normalize.mean", mean, -mean / sd, "the offset -mean / std");
            c.input.normalize.push_back({1.0 / sd, -mean / sd});
        }
    }
    if (c.input.normalize.size() > 1 && !c.input.bands.empty() &&
        c.input.normalize.size() != c.input.bands.size())
        throw ConfigError(where_of(c, "input.normalize"),
                          fmt::format("expected 1 or {} values (one per band of input.bands), "
                                      "found {}",
                                      c.input.bands.size(), c.input.normalize.size()));
}

void finish_architecture(Parsed& p)
{
    const auto& a = p.arch;
    auto& c = p.cfg;
    if (!a.present)
        return;
    if (!a.type)
        throw ConfigError(where_of(c, "model.architecture"),
                          "expected key `type` (unet or classifier), found none");
    auto reject = [&](bool given, const char* key, const char* for_type)
    {
        if (given)
            throw ConfigError(where_of(c, std::string("model.architecture.") + key),
                              fmt::format("only for type {}, found type {}", for_type, *a.type));
    };
    if (*a.type == "unet")
    {
        reject(a.height.has_value(), "height", "classifier");
        reject(a.width.has_value(), "width", "classifier");
        infer::UnetArchitecture u;
        u.filters = a.filters.value_or(u.filters);
        u.depth = a.depth.value_or(u.depth);
        if (a.dilation)
        {
            if (static_cast<int>(a.dilation->size()) != u.depth)
                throw ConfigError(where_of(c, "model.architecture.dilation"),
                                  fmt::format("expected {} rates (one per level of depth {}), "
                                              "found {}",
                                              u.depth, u.depth, a.dilation->size()));
            u.dilation = *a.dilation;
        }
        else
        {
            // The seed dilates its deepest two levels at rate 2.
            u.dilation.assign(static_cast<std::size_t>(u.depth), 1);
            for (int i = std::max(1, u.depth - 2); i < u.depth; ++i)
                u.dilation[static_cast<std::size_t>(i)] = 2;
        }
        u.separable = a.separable.value_or(u.separable);
        u.in_channels = a.in_channels.value_or(u.in_channels);
        u.classes = a.classes.value_or(u.classes);
        u.dropout = a.dropout.value_or(u.dropout);
        c.model.architecture = u;
    }
    else
    {
        reject(a.filters.has_value(), "filters", "unet");
        reject(a.depth.has_value(), "depth", "unet");
        reject(a.dilation.has_value(), "dilation", "unet");
        reject(a.separable.has_value(), "separable", "unet");
        reject(a.dropout.has_value(), "dropout", "unet");
        infer::ClassifierArchitecture k;
        k.height = a.height.value_or(k.height);
        k.width = a.width.value_or(k.width);
        k.in_channels = a.in_channels.value_or(k.in_channels);
        k.classes = a.classes.value_or(k.classes);
        c.model.architecture = k;
    }
}

void require(const RunConfig& c, const std::string& name, const std::string& key, bool present)
{
    if (!present)
        throw ConfigError(name + " " + key, fmt::format("required key missing; expected {}",
                                                        find_entry(key)->doc.help));
}

std::string fmt_double(double v)
{
    return fmt::format("{}", v);
}

} // namespace

const char* executor_name(TileOptions::Executor executor)
{
    switch (executor)
    {
    case TileOptions::Executor::automatic:
        return "auto";
    case TileOptions::Executor::tiles:
        return "tiles";
    case TileOptions::Executor::stream:
        return "stream";
    }
    return "auto";
}

std::string RunConfig::where(const std::string& key) const
{
    auto it = locations.find(key);
    if (it == locations.end())
        return key;
    return it->second == "--set" ? "--set " + key : it->second + " " + key;
}

std::pair<int, std::string> resolve_threads(int configured, const char* slurm_cpus)
{
    return resolve_threads(configured, slurm_cpus, usable_cpus());
}

std::pair<int, std::string> resolve_threads(int configured, const char* slurm_cpus,
                                            const UsableCpus& cpus)
{
    long long wanted = configured;
    std::string from = "runtime.threads";
    if (configured <= 0 && slurm_cpus && *slurm_cpus)
    {
        long long v = 0;
        const std::string s(slurm_cpus);
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || ptr != s.data() + s.size() || v <= 0)
            throw ConfigError("SLURM_CPUS_PER_TASK",
                              fmt::format("expected a positive integer, found '{}'", s));
        wanted = v;
        from = "SLURM_CPUS_PER_TASK";
    }
    else if (configured <= 0)
    {
        const int n = std::min(cpus.count, max_threads);
        return {n, cpus.why.empty() ? std::string("all cores")
                                    : fmt::format("all cores this process may use ({})", cpus.why)};
    }
    // One bound for every request: the key's limit, then the CPUs this process may run on.
    if (wanted > max_threads && max_threads <= cpus.count)
        return {max_threads,
                fmt::format("{} {} cut to {}, the most atrous runs", from, wanted, max_threads)};
    if (wanted > cpus.count)
        return {cpus.count,
                fmt::format("{} {} cut to {}, the CPUs this process may run on{}", from, wanted,
                            cpus.count, cpus.why.empty() ? "" : " (" + cpus.why + ")")};
    return {static_cast<int>(wanted), from};
}

RunConfig parse_config(std::string_view yaml, const std::string& name,
                       const std::filesystem::path& base_dir,
                       const std::vector<std::string>& overrides, const char* slurm_cpus,
                       const UsableCpus* cpus)
{
    Document doc{name, fs::absolute(base_dir), {}};
    YAML::Node root;
    check_config_complexity(yaml, name);
    try
    {
        root = YAML::Load(std::string(yaml));
    }
    catch (const YAML::Exception& e)
    {
        throw ConfigError(fmt::format("{}:{}", name, e.mark.line + 1),
                          fmt::format("YAML syntax error: {}", e.msg));
    }
    if (root.IsDefined() && !root.IsNull() && !root.IsMap())
        throw ConfigError(name, fmt::format("expected a map with sections {}, found {}",
                                            children_of(""), Value::found(root)));
    apply_overrides(root, overrides, doc);

    Parsed p;
    p.cfg.file = name.empty() ? fs::path() : fs::path(name);
    if (root.IsMap())
        walk(root, "", doc, p);

    require(p.cfg, name, "input.path", !p.cfg.input.path.empty());
    require(p.cfg, name, "model.weights", !p.cfg.model.weights.empty());
    require(p.cfg, name, "output.path", !p.cfg.output.path.empty());
    if (p.cfg.output.path == p.cfg.input.path)
        throw ConfigError(p.cfg.where("output.path"),
                          fmt::format("expected a file other than the input, found {} again",
                                      p.cfg.output.path.string()));
    finish_normalize(p);
    finish_architecture(p);
    std::tie(p.cfg.runtime.threads, p.cfg.runtime.threads_from) =
        cpus ? resolve_threads(p.threads.value_or(0), slurm_cpus, *cpus)
             : resolve_threads(p.threads.value_or(0), slurm_cpus);
    return p.cfg;
}

RunConfig load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides)
{
    const std::string text = read_config_text(file);
    const fs::path abs = fs::absolute(file);
    RunConfig c = parse_config(text, file.string(), abs.parent_path(), overrides,
                               std::getenv("SLURM_CPUS_PER_TASK"));
    c.file = abs;
    return c;
}

std::string RunConfig::normalized_yaml() const
{
    YAML::Emitter e;
    e << YAML::BeginMap;
    e << YAML::Key << "input" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "path" << YAML::Value << input.path.string();
    if (!input.bands.empty())
        e << YAML::Key << "bands" << YAML::Value << YAML::Flow << input.bands;
    if (!input.normalize.empty())
    {
        std::vector<std::string> scale, offset;
        for (const auto& b : input.normalize)
        {
            scale.push_back(fmt_double(b.scale));
            offset.push_back(fmt_double(b.offset));
        }
        e << YAML::Key << "normalize" << YAML::Value << YAML::BeginMap;
        e << YAML::Key << "scale" << YAML::Value << YAML::Flow << scale;
        e << YAML::Key << "offset" << YAML::Value << YAML::Flow << offset;
        e << YAML::EndMap;
    }
    if (input.percentile_stretch)
    {
        e << YAML::Key << "normalize" << YAML::Value << YAML::BeginMap;
        e << YAML::Key << "preset" << YAML::Value << "percentile";
        e << YAML::Key << "percentiles" << YAML::Value << YAML::Flow
          << std::vector<std::string>{fmt_double((*input.percentile_stretch)[0]),
                                      fmt_double((*input.percentile_stretch)[1])};
        e << YAML::EndMap;
    }
    if (input.nodata)
        e << YAML::Key << "nodata" << YAML::Value << fmt_double(*input.nodata);
    e << YAML::EndMap;

    e << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
    if (model.placeholder_seed)
        e << YAML::Key << "weights" << YAML::Value
          << fmt::format("PLACEHOLDER (random weights, seed {})", *model.placeholder_seed);
    else
        e << YAML::Key << "weights" << YAML::Value << model.weights.string();
    if (model.architecture)
    {
        e << YAML::Key << "architecture" << YAML::Value << YAML::BeginMap;
        if (const auto* u = std::get_if<infer::UnetArchitecture>(&*model.architecture))
        {
            e << YAML::Key << "type" << YAML::Value << "unet";
            e << YAML::Key << "filters" << YAML::Value << u->filters;
            e << YAML::Key << "depth" << YAML::Value << u->depth;
            e << YAML::Key << "dilation" << YAML::Value << YAML::Flow << u->dilation;
            e << YAML::Key << "separable" << YAML::Value << u->separable;
            e << YAML::Key << "in_channels" << YAML::Value << u->in_channels;
            e << YAML::Key << "classes" << YAML::Value << u->classes;
            e << YAML::Key << "dropout" << YAML::Value << fmt_double(u->dropout);
        }
        else
        {
            const auto& k = std::get<infer::ClassifierArchitecture>(*model.architecture);
            e << YAML::Key << "type" << YAML::Value << "classifier";
            e << YAML::Key << "height" << YAML::Value << k.height;
            e << YAML::Key << "width" << YAML::Value << k.width;
            e << YAML::Key << "in_channels" << YAML::Value << k.in_channels;
            e << YAML::Key << "classes" << YAML::Value << k.classes;
        }
        e << YAML::EndMap;
    }
    e << YAML::EndMap;

    e << YAML::Key << "tile" << YAML::Value << YAML::BeginMap;
    if (tile.size)
        e << YAML::Key << "size" << YAML::Value << *tile.size;
    if (tile.halo_px)
        e << YAML::Key << "halo" << YAML::Value << *tile.halo_px;
    else
        e << YAML::Key << "halo" << YAML::Value << "exact";
    e << YAML::Key << "stitch" << YAML::Value
      << (stitch.mode == StitchMode::crop ? "crop" : "blend");
    e << YAML::Key << "executor" << YAML::Value << executor_name(tile.executor);
    if (!tile.stream_strip_px)
        e << YAML::Key << "stream_strip" << YAML::Value << "auto";
    else if (*tile.stream_strip_px == 0)
        e << YAML::Key << "stream_strip" << YAML::Value << "full";
    else
        e << YAML::Key << "stream_strip" << YAML::Value << *tile.stream_strip_px;
    e << YAML::EndMap;

    e << YAML::Key << "output" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "path" << YAML::Value << output.path.string();
    e << YAML::Key << "probabilities" << YAML::Value
      << (output.probabilities == ProbabilityFormat::none    ? "none"
          : output.probabilities == ProbabilityFormat::uint8 ? "uint8"
                                                             : "float32");
    e << YAML::Key << "threshold" << YAML::Value << fmt_double(output.threshold);
    e << YAML::Key << "compression" << YAML::Value << output.compression;
    e << YAML::Key << "compression_level" << YAML::Value << output.compression_level;
    e << YAML::EndMap;

    e << YAML::Key << "runtime" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "threads" << YAML::Value << runtime.threads;
    e << YAML::Key << "sync_interval" << YAML::Value << fmt_double(runtime.sync_interval);
    e << YAML::Key << "precision" << YAML::Value
      << (model.precision == infer::Precision::bf16 ? "bf16" : "fp32");
    if (input.gdal_cache_mb)
        e << YAML::Key << "gdal_cache_mb" << YAML::Value << *input.gdal_cache_mb;
    e << YAML::EndMap;
    e << YAML::EndMap;
    return std::string(e.c_str()) + "\n";
}

} // namespace atrous
