// SPDX-License-Identifier: Apache-2.0
// Purpose: internal to pipeline/config/config*.cpp: the table of configuration keys (type, default,
// help, parser) and the typed reader of one YAML value. Not for stages: they get RunConfig.
#pragma once

#include "pipeline/config/config.hpp"
#include "stages/error.hpp"
#include "stages/read/gdal_path.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace atrous::config_detail
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

    /// A local file: relative to the configuration's directory, normalized. GDAL's /vsi names
    /// are refused here: HDF5 (model, output) reads and writes only local files.
    fs::path as_path() const
    {
        if (!m_node.IsScalar() || m_node.Scalar().empty())
            fail("a file path");
        if (is_gdal_virtual_path(m_node.Scalar()))
            fail("a local file path (GDAL's /vsi paths are read for input.path only)");
        fs::path p(m_node.Scalar());
        return (p.is_relative() ? m_base / p : p).lexically_normal();
    }

    /// A name GDAL opens: a local file as as_path(); a /vsi name (/vsicurl/https://..., /vsis3/,
    /// /vsizip/a.zip/b.tif) verbatim: normalizing would merge the two slashes of "https://", and
    /// a relative archive inside /vsizip/ is GDAL's to resolve (from the working directory).
    fs::path as_dataset_path() const
    {
        if (m_node.IsScalar() && is_gdal_virtual_path(m_node.Scalar()))
            return fs::path(m_node.Scalar());
        return as_path();
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

/// Every key in document order, sections included (pipeline/config/config_keys.cpp).
const std::vector<Entry>& entries();
const Entry* find_entry(const std::string& key);
bool is_section(const Entry& e);
/// "a.b.c" -> "a.b"; "a" -> "".
std::string parent_of(const std::string& key);
/// The keys allowed directly under `section` ("" = top level), for "unknown key" messages.
std::string children_of(const std::string& section);

} // namespace atrous::config_detail
