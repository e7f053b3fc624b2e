// SPDX-License-Identifier: Apache-2.0
// Purpose: SHA-256 of bytes and of a file (nettle's), for the model's provenance in every output
// and the resume fingerprint.
#pragma once

#include <cstddef>
#include <filesystem>
#include <nettle/sha2.h>
#include <string>
#include <string_view>

namespace atrous
{

/// Incremental SHA-256 over nettle's sha256. Value type; not thread-safe.
class Sha256
{
public:
    Sha256();
    void update(const void* data, std::size_t size);
    void update(std::string_view s) { update(s.data(), s.size()); }
    /// Lowercase hex digest (64 characters); the object is spent afterwards.
    std::string hex_digest();

private:
    sha256_ctx m_ctx;
};

/// Hex SHA-256 of a file's bytes. Throws InputError(path, ...) when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

} // namespace atrous
