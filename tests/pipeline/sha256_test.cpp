// SPDX-License-Identifier: Apache-2.0
// Purpose: SHA-256 (nettle) against the FIPS 180-4 / NIST example vectors and sha256sum.
#include "pipeline/sha256.hpp"
#include "stages/error.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace atrous
{
namespace
{

std::string digest(const std::string& s)
{
    Sha256 h;
    h.update(s);
    return h.hex_digest();
}

TEST(Sha256, NistVectors)
{
    EXPECT_EQ(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(digest(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PiecewiseEqualsWhole)
{
    std::string text;
    for (int i = 0; i < 300; ++i)
        text += static_cast<char>(i * 7 + 3);
    Sha256 h;
    for (std::size_t i = 0; i < text.size(); i += 13)
        h.update(text.substr(i, 13));
    EXPECT_EQ(h.hex_digest(), digest(text));
}

TEST(Sha256, FileAndMissingFile)
{
    const auto path = std::filesystem::temp_directory_path() /
                      ("atrous_sha256_test_" + std::to_string(::getpid()) + ".bin");
    {
        std::ofstream(path, std::ios::binary) << "abc";
    }
    EXPECT_EQ(sha256_file(path), digest("abc"));
    std::filesystem::remove(path);
    EXPECT_THROW(sha256_file(path), InputError);
}

} // namespace
} // namespace atrous
