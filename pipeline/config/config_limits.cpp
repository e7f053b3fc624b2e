// SPDX-License-Identifier: Apache-2.0
// Purpose: config size limit and alias-expansion node count (yaml-cpp event handler).
#include "config_limits.hpp"

#include "stages/error.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <vector>

namespace atrous
{

namespace
{

namespace fs = std::filesystem;

/// Expanded node count: each node counts 1, each alias counts its anchor's expanded size.
class NodeCounter final : public YAML::EventHandler
{
public:
    NodeCounter(std::string name) : m_name(std::move(name)) {}

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override
    {
        auto it = m_sizes.find(anchor);
        add(mark, it == m_sizes.end() ? 1 : it->second);
    }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  const std::string&) override
    {
        leaf(mark, anchor);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override
    {
        open(mark, anchor);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override
    {
        open(mark, anchor);
    }
    void OnMapEnd() override { close(); }

private:
    struct Open
    {
        YAML::anchor_t anchor;
        std::size_t start;
    };
    std::string m_name;
    std::size_t m_count = 0;
    std::unordered_map<YAML::anchor_t, std::size_t> m_sizes;
    std::vector<Open> m_open;

    void add(const YAML::Mark& mark, std::size_t n)
    {
        m_count += n;
        if (m_count > max_config_nodes)
            throw ConfigError(fmt::format("{}:{}", m_name, mark.line + 1),
                              fmt::format("the YAML expands to more than {} nodes (aliases "
                                          "repeated); a configuration needs far fewer: refused",
                                          max_config_nodes));
    }
    void leaf(const YAML::Mark& mark, YAML::anchor_t anchor)
    {
        add(mark, 1);
        if (anchor != YAML::NullAnchor)
            m_sizes[anchor] = 1;
    }
    void open(const YAML::Mark& mark, YAML::anchor_t anchor)
    {
        add(mark, 1);
        m_open.push_back({anchor, m_count - 1});
    }
    void close()
    {
        if (m_open.empty())
            return;
        const Open o = m_open.back();
        m_open.pop_back();
        if (o.anchor != YAML::NullAnchor)
            m_sizes[o.anchor] = m_count - o.start;
    }
};

} // namespace

std::string read_config_text(const fs::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw ConfigError(file.string(),
                          fmt::format("cannot read the config: {}",
                                      fs::exists(file) ? "permission denied" : "no such file"));
    std::error_code ec;
    if (fs::is_regular_file(file, ec))
    {
        const auto size = fs::file_size(file, ec);
        if (!ec && size > max_config_bytes)
            throw ConfigError(file.string(),
                              fmt::format("{} bytes: a configuration may have at most {} bytes",
                                          size, max_config_bytes));
    }
    std::string text(max_config_bytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_config_bytes)
        throw ConfigError(file.string(), fmt::format("more than {} bytes: a configuration may "
                                                     "have at most {} bytes",
                                                     max_config_bytes, max_config_bytes));
    return text;
}

void check_config_complexity(std::string_view yaml, const std::string& name)
{
    std::istringstream stream{std::string(yaml)};
    NodeCounter counter(name);
    try
    {
        YAML::Parser parser(stream);
        while (parser.HandleNextDocument(counter))
        {
        }
    }
    catch (const YAML::Exception&)
    {
        // Syntax errors: reported with their line by the real parse.
    }
}

} // namespace atrous
