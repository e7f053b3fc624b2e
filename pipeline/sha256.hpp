// SPDX-License-Identifier: Apache-2.0
// Purpose: SHA-256 (FIPS 180-4) of a file, for the model's provenance in every output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace atrous
{

/// Incremental SHA-256. Value type; not thread-safe.
class Sha256
{
public:
    Sha256();
    void update(const void* data, std::size_t size);
    void update(std::string_view s) { update(s.data(), s.size()); }
    /// Lowercase hex digest (64 characters); the object is spent afterwards.
    std::string hex_digest();

private:
    void block(const std::uint8_t* p);
    std::uint32_t m_state[8];
    std::uint8_t m_buffer[64];
    std::size_t m_buffered = 0;
    std::uint64_t m_bytes = 0;
};

/// Hex SHA-256 of a file's bytes. Throws InputError(path, ...) when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

} // namespace atrous
