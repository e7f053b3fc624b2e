// SPDX-License-Identifier: Apache-2.0
// Purpose: YAML + --set -> RunConfig, driven by one table of keys (type, default, help, parser).
#include "config.hpp"

#include "pipeline/config_limits.hpp"
#include "stages/error.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace atrous
{
namespace
{

namespace fs = std::filesystem;

/// Normalization and architecture keys depend on each other; they are collected first and
/// turned into option structs once the whole document was read.
struct NormalizeKeys
{
    std::optional<std::vector<double>> scale, offset, mean, std;
    std::optional<std::string> preset;
    std::optional<std::vector<double>> percentiles;
};

struct ArchitectureKeys
{
    bool present = false;
    std::optional<std::string> type;
    std::optional<int> filters, depth, in_channels, classes, height, width;
    std::optional<std::vector<int>> dilation;
    std::optional<bool> separable;
    std::optional<double> dropout;
};

struct Parsed
{
    RunConfig cfg;
    NormalizeKeys normalize;
    ArchitectureKeys arch;
    std::optional<int> threads;
};

/// One YAML value at a known key, with typed readers that fail with the key's location.
class Value
{
public:
    Value(const YAML::Node& node, std::string key, std::string where, fs::path base_dir)
        : m_node(node), m_key(std::move(key)), m_where(std::move(where)),
          m_base(std::move(base_dir))
    {
    }

    const YAML::Node& node() const { return m_node; }

    [[noreturn]] void fail(const std::string& expected) const
    {
        throw ConfigError(m_where, fmt::format("expected {}, found {}", expected, found(m_node)));
    }

    static std::string found(const YAML::Node& n)
    {
        if (!n.IsDefined() || n.IsNull())
            return "nothing (null)";
        if (n.IsSequence())
            return fmt::format("a list of {}", n.size());
        if (n.IsMap())
            return "a section (map)";
        return fmt::format("'{}'", n.Scalar());
    }

    int as_int(int min, int max = std::numeric_limits<int>::max()) const
    {
        const std::string expected = max == std::numeric_limits<int>::max()
                                         ? fmt::format("an integer >= {}", min)
                                         : fmt::format("an integer in {}..{}", min, max);
        auto v = parse_int(m_node);
        if (!v || *v < min || *v > max)
            fail(expected);
        return *v;
    }

    double as_double(double min, double max) const
    {
        auto v = parse_double(m_node);
        if (!v || *v < min || *v > max)
            fail(fmt::format("a number in [{}, {}]", min, max));
        return *v;
    }

    bool as_bool() const
    {
        if (m_node.IsScalar())
        {
            const std::string& s = m_node.Scalar();
            if (s == "true" || s == "True" || s == "yes" || s == "on")
                return true;
            if (s == "false" || s == "False" || s == "no" || s == "off")
                return false;
        }
        fail("true or false");
    }

    std::string as_choice(const std::vector<std::string>& choices) const
    {
        if (m_node.IsScalar() &&
            std::find(choices.begin(), choices.end(), m_node.Scalar()) != choices.end())
            return m_node.Scalar();
        std::string list;
        for (const auto& c : choices)
            list += (list.empty() ? "" : "|") + c;
        fail("one of " + list);
    }

    fs::path as_path() const
    {
        if (!m_node.IsScalar() || m_node.Scalar().empty())
            fail("a file path");
        fs::path p(m_node.Scalar());
        return (p.is_relative() ? m_base / p : p).lexically_normal();
    }

    std::vector<int> as_int_list(int min) const
    {
        std::vector<int> out;
        if (m_node.IsScalar())
        {
            out.push_back(as_int(min));
            return out;
        }
        if (!m_node.IsSequence() || m_node.size() == 0)
            fail(fmt::format("a list of integers >= {}", min));
        for (const auto& item : m_node)
        {
            auto v = parse_int(item);
            if (!v || *v < min)
                throw ConfigError(m_where,
                                  fmt::format("expected a list of integers >= {}, found {} in it",
                                              min, found(item)));
            out.push_back(*v);
        }
        return out;
    }

    /// One number or a list of numbers (per band).
    std::vector<double> as_number_list() const
    {
        std::vector<double> out;
        if (m_node.IsScalar())
        {
            auto v = parse_double(m_node);
            if (!v)
                fail("a number or a list of numbers (one per band)");
            out.push_back(*v);
            return out;
        }
        if (!m_node.IsSequence() || m_node.size() == 0)
            fail("a number or a list of numbers (one per band)");
        for (const auto& item : m_node)
        {
            auto v = parse_double(item);
            if (!v)
                throw ConfigError(m_where, fmt::format("expected a list of numbers, found {} in it",
                                                       found(item)));
            out.push_back(*v);
        }
        return out;
    }

    static std::optional<int> parse_int(const YAML::Node& n)
    {
        if (!n.IsScalar())
            return std::nullopt;
        const std::string& s = n.Scalar();
        const char* first = s.data() + (s.size() > 1 && s[0] == '+' ? 1 : 0);
        int v = 0;
        auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), v);
        if (ec != std::errc() || ptr != s.data() + s.size() || first == ptr)
            return std::nullopt;
        return v;
    }

    static std::optional<double> parse_double(const YAML::Node& n)
    {
        if (!n.IsScalar())
            return std::nullopt;
        const std::string& s = n.Scalar();
        const char* first = s.data() + (s.size() > 1 && s[0] == '+' ? 1 : 0);
        double v = 0;
        auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), v);
        if (ec != std::errc() || ptr != s.data() + s.size() || first == ptr || !std::isfinite(v))
            return std::nullopt;
        return v;
    }

private:
    YAML::Node m_node;
    std::string m_key;
    std::string m_where;
    fs::path m_base;
};

using Apply = void (*)(const Value&, Parsed&);

struct Entry
{
    ConfigKey doc;
    Apply apply = nullptr; // nullptr: a section (a map of further keys)
};

const std::vector<Entry>& entries()
{
    static const std::vector<Entry> table = {
        {{"input", "section", "", "The raster to segment.", true}, nullptr},
        {{"input.path", "path", "", "Input raster: any file GDAL opens (GeoTIFF, COG, VRT, ...).",
          true},
         [](const Value& v, Parsed& p) { p.cfg.input.path = v.as_path(); }},
        {{"input.bands", "list of integers >= 1", "all bands",
          "Bands fed to the model, 1-based, in this order; their count must equal the model's "
          "input channels."},
         [](const Value& v, Parsed& p) { p.cfg.input.bands = v.as_int_list(1); }},
        {{"input.normalize", "section", "identity",
          "Per-band normalization: either {scale, offset} (v * scale + offset) or {mean, std} "
          "((v - mean) / std); each one number for every band or one per band."},
         nullptr},
        {{"input.normalize.scale", "number or list", "1", "Multiplier (scale/offset form)."},
         [](const Value& v, Parsed& p) { p.normalize.scale = v.as_number_list(); }},
        {{"input.normalize.offset", "number or list", "0", "Added after scaling."},
         [](const Value& v, Parsed& p) { p.normalize.offset = v.as_number_list(); }},
        {{"input.normalize.mean", "number or list", "0", "Subtracted (mean/std form)."},
         [](const Value& v, Parsed& p) { p.normalize.mean = v.as_number_list(); }},
        {{"input.normalize.std", "number or list", "1", "Divisor (mean/std form), non-zero."},
         [](const Value& v, Parsed& p) { p.normalize.std = v.as_number_list(); }},
        {{"input.normalize.preset", "one of uint8|percentile", "none",
          "Instead of the numbers: uint8 = scale 1/255; percentile = per band, the "
          "input.normalize.percentiles of a <= 1024 px sample read downsampled by GDAL (nodata "
          "excluded; for 16-bit data) stretched to [0, 1], computed once before the run."},
         [](const Value& v, Parsed& p) {
             p.normalize.preset = v.as_choice({"uint8", "percentile"});
         }},
        {{"input.normalize.percentiles", "two numbers in [0, 100]", "[2, 98]",
          "preset percentile: the low and high percentile."},
         [](const Value& v, Parsed& p) { p.normalize.percentiles = v.as_number_list(); }},
        {{"input.nodata", "number", "the file's",
          "Pixel value meaning `no data`, compared before normalization: a pixel whose selected "
          "bands all equal it (or any band is NaN/Inf) is fed as 0 and written as nodata."},
         [](const Value& v, Parsed& p)
         {
             auto d = Value::parse_double(v.node());
             if (!d)
                 v.fail("a number");
             p.cfg.input.nodata = *d;
         }},
        {{"model", "section", "", "The network.", true}, nullptr},
        {{"model.weights", "path", "",
          "Keras HDF5 file (model.save or save_weights layout, Keras 2 or 3).", true},
         [](const Value& v, Parsed& p) { p.cfg.model.weights = v.as_path(); }},
        {{"model.architecture", "section", "from the file",
          "The built-in architecture, needed only when the weights file has no model_config "
          "(save_weights layout)."},
         nullptr},
        {{"model.architecture.type", "one of unet|classifier", "required in the section",
          "Which built-in network."},
         [](const Value& v, Parsed& p) {
             p.arch.type = v.as_choice({"unet", "classifier"});
         }},
        {{"model.architecture.filters", "integer >= 1", "64",
          "unet: width of level 1 (level i "
          "has filters * 2^(i-1))."},
         [](const Value& v, Parsed& p) { p.arch.filters = v.as_int(1, 4096); }},
        {{"model.architecture.depth", "integer >= 1", "5",
          "unet: number of levels (depth - 1 poolings; total stride 2^(depth-1))."},
         [](const Value& v, Parsed& p) { p.arch.depth = v.as_int(1, 10); }},
        {{"model.architecture.dilation", "list of integers >= 1",
          "1 except the deepest two "
          "levels: 2",
          "unet: dilation rate per level (one per level)."},
         [](const Value& v, Parsed& p) { p.arch.dilation = v.as_int_list(1); }},
        {{"model.architecture.separable", "boolean", "false",
          "unet: SeparableConv2D instead of every 3x3 Conv2D."},
         [](const Value& v, Parsed& p) { p.arch.separable = v.as_bool(); }},
        {{"model.architecture.in_channels", "integer >= 1", "1", "Input bands of the network."},
         [](const Value& v, Parsed& p) { p.arch.in_channels = v.as_int(1, 4096); }},
        {{"model.architecture.classes", "integer >= 1", "1 (unet), 10 (classifier)",
          "Output classes (1 = sigmoid mask, more = softmax)."},
         [](const Value& v, Parsed& p) { p.arch.classes = v.as_int(1, 65535); }},
        {{"model.architecture.dropout", "number in [0, 1)", "0.5",
          "unet: Dropout rate after the dilated levels (inactive at inference; for matching "
          "layer names)."},
         [](const Value& v, Parsed& p) { p.arch.dropout = v.as_double(0.0, 0.999999); }},
        {{"model.architecture.height", "integer >= 1", "28", "classifier: input height."},
         [](const Value& v, Parsed& p) { p.arch.height = v.as_int(1, 65535); }},
        {{"model.architecture.width", "integer >= 1", "28", "classifier: input width."},
         [](const Value& v, Parsed& p) { p.arch.width = v.as_int(1, 65535); }},
        {{"tile", "section", "", "How the image is cut into tiles."}, nullptr},
        {{"tile.size", "integer >= 1", "256 (classifier: its input size)",
          "Core edge in output pixels; a multiple of the model's total stride."},
         [](const Value& v, Parsed& p) { p.cfg.tile.size = v.as_int(1, 1 << 16); }},
        {{"tile.halo", "exact or integer >= 0", "exact",
          "Context read around each core: `exact` = the model's receptive radius (result equal "
          "to a whole-image run), or pixels (rounded up to the stride)."},
         [](const Value& v, Parsed& p)
         {
             if (v.node().IsScalar() && v.node().Scalar() == "exact")
                 p.cfg.tile.halo_px.reset();
             else if (auto i = Value::parse_int(v.node()); i && *i >= 0 && *i <= (1 << 16))
                 p.cfg.tile.halo_px = *i;
             else
                 v.fail("`exact` or an integer >= 0 (pixels)");
         }},
        {{"tile.stitch", "one of crop|blend", "crop",
          "crop: keep each tile's core (exact with an exact halo); blend: weighted average of "
          "overlapping windows."},
         [](const Value& v, Parsed& p)
         {
             p.cfg.stitch.mode =
                 v.as_choice({"crop", "blend"}) == "crop" ? StitchMode::crop : StitchMode::blend;
         }},
        {{"output", "section", "", "The HDF5 file written.", true}, nullptr},
        {{"output.path", "path", "",
          "HDF5 output; written as `<path>.partial` and renamed when complete.", true},
         [](const Value& v, Parsed& p) { p.cfg.output.path = v.as_path(); }},
        {{"output.probabilities", "one of none|uint8|float32", "none",
          "Also store the probabilities: none, uint8 (p * 254, 255 = nodata) or float32."},
         [](const Value& v, Parsed& p)
         {
             const auto s = v.as_choice({"none", "uint8", "float32"});
             p.cfg.output.probabilities = s == "none"    ? ProbabilityFormat::none
                                          : s == "uint8" ? ProbabilityFormat::uint8
                                                         : ProbabilityFormat::float32;
         }},
        {{"output.threshold", "number in [0, 1]", "0.5",
          "1-class models: mask = probability >= threshold."},
         [](const Value& v, Parsed& p) { p.cfg.output.threshold = v.as_double(0.0, 1.0); }},
        {{"output.compression", "one of deflate|none", "deflate", "HDF5 chunk compression."},
         [](const Value& v, Parsed& p) {
             p.cfg.output.compression = v.as_choice({"deflate", "none"});
         }},
        {{"output.compression_level", "integer in 1..9", "4", "deflate level."},
         [](const Value& v, Parsed& p) { p.cfg.output.compression_level = v.as_int(1, 9); }},
        {{"runtime", "section", "", "Resources."}, nullptr},
        {{"runtime.threads", "integer >= 0", "0",
          "Worker threads; 0 = SLURM_CPUS_PER_TASK when set, else every core."},
         [](const Value& v, Parsed& p) { p.threads = v.as_int(0, 4096); }},
    };
    return table;
}

const Entry* find_entry(const std::string& key)
{
    for (const auto& e : entries())
        if (e.doc.key == key)
            return &e;
    return nullptr;
}

bool is_section(const Entry& e)
{
    return e.doc.type == "section";
}

std::string parent_of(const std::string& key)
{
    const auto dot = key.rfind('.');
    return dot == std::string::npos ? std::string() : key.substr(0, dot);
}

/// The keys allowed directly under `section` ("" = top level), for "unknown key" messages.
std::string children_of(const std::string& section)
{
    std::string list;
    for (const auto& e : entries())
        if (parent_of(e.doc.key) == section)
        {
            const auto leaf = section.empty() ? e.doc.key : e.doc.key.substr(section.size() + 1);
            list += (list.empty() ? "" : ", ") + leaf;
        }
    return list;
}

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
        const bool from_set = overridden(doc, key);
        const std::string loc =
            from_set ? "--set" : fmt::format("{}:{}", doc.name, k.Mark().line + 1);
        const std::string where = from_set ? "--set " + key : loc + " " + key;

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
            c.input.normalize.push_back({pick(n.scale, i, 1.0), pick(n.offset, i, 0.0)});
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
            c.input.normalize.push_back({1.0 / sd, -pick(n.mean, i, 0.0) / sd});
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

std::string RunConfig::where(const std::string& key) const
{
    auto it = locations.find(key);
    if (it == locations.end())
        return key;
    return it->second == "--set" ? "--set " + key : it->second + " " + key;
}

std::pair<int, std::string> resolve_threads(int configured, const char* slurm_cpus)
{
    if (configured > 0)
        return {configured, "runtime.threads"};
    if (slurm_cpus && *slurm_cpus)
    {
        int v = 0;
        const std::string s(slurm_cpus);
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec == std::errc() && ptr == s.data() + s.size() && v > 0)
            return {v, "SLURM_CPUS_PER_TASK"};
        throw ConfigError("SLURM_CPUS_PER_TASK",
                          fmt::format("expected a positive integer, found '{}'", s));
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return {hw > 0 ? static_cast<int>(hw) : 1, "all cores"};
}

RunConfig parse_config(std::string_view yaml, const std::string& name,
                       const std::filesystem::path& base_dir,
                       const std::vector<std::string>& overrides, const char* slurm_cpus)
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
        resolve_threads(p.threads.value_or(0), slurm_cpus);
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

const std::vector<ConfigKey>& config_keys()
{
    static const std::vector<ConfigKey> keys = []
    {
        std::vector<ConfigKey> out;
        for (const auto& e : entries())
            out.push_back(e.doc);
        return out;
    }();
    return keys;
}

std::string config_keys_markdown()
{
    std::string out = "| key | type | default | meaning |\n|---|---|---|---|\n";
    for (const auto& k : config_keys())
    {
        if (k.type == "section")
            continue;
        std::string help = k.help;
        std::replace(help.begin(), help.end(), '|', '/');
        std::string type = k.type;
        std::replace(type.begin(), type.end(), '|', '/');
        out += fmt::format("| `{}` | {} | {} | {} |\n", k.key, type,
                           k.required ? "required" : k.default_value, help);
    }
    return out;
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
    e << YAML::EndMap;
    e << YAML::EndMap;
    return std::string(e.c_str()) + "\n";
}

} // namespace atrous
