// SPDX-License-Identifier: Apache-2.0
// Purpose: limits that keep a hostile configuration from exhausting memory or time: file size
// and the node count after YAML alias expansion ("billion laughs").
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace atrous
{

/// A configuration file larger than this is refused before it is parsed.
constexpr std::size_t max_config_bytes = 1 << 20;
/// A document whose nodes, with every alias expanded, exceed this count is refused.
constexpr std::size_t max_config_nodes = 100000;

/// Reads `file` (at most max_config_bytes; special files such as pipes included). Throws
/// ConfigError("<file>", ...) when it is missing, unreadable or too large.
std::string read_config_text(const std::filesystem::path& file);

/// Counts the document's nodes with aliases expanded, in one pass over the parser's events (the
/// expansion itself is never built). Throws ConfigError(name, ...) beyond max_config_nodes. YAML
/// syntax errors are left to the real parse (returns quietly).
void check_config_complexity(std::string_view yaml, const std::string& name);

} // namespace atrous
