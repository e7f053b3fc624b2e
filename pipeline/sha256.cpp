// SPDX-License-Identifier: Apache-2.0
// Purpose: SHA-256 through nettle (Debian's nettle-dev), hex-encoded; files hashed in 64 KiB reads.
#include "sha256.hpp"

#include "stages/error.hpp"

#include <cstdint>
#include <fstream>
#include <vector>

namespace atrous
{

Sha256::Sha256()
{
    sha256_init(&m_ctx);
}

void Sha256::update(const void* data, std::size_t size)
{
    sha256_update(&m_ctx, size, static_cast<const std::uint8_t*>(data));
}

std::string Sha256::hex_digest()
{
    std::uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&m_ctx, SHA256_DIGEST_SIZE, digest);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * SHA256_DIGEST_SIZE);
    for (const std::uint8_t byte : digest)
    {
        out.push_back(digits[byte >> 4]);
        out.push_back(digits[byte & 0xf]);
    }
    return out;
}

std::string sha256_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError(path.string(), "cannot read the file to hash it");
    Sha256 h;
    std::vector<char> buffer(1 << 16);
    while (in)
    {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        h.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    if (in.bad())
        throw InputError(path.string(), "read error while hashing");
    return h.hex_digest();
}

} // namespace atrous
