// SPDX-License-Identifier: Apache-2.0
// Purpose: the .keras zip reader: entries read whole, told apart from HDF5 by content, each
// entry bounded before it is read (caps, Keras' bomb rule, a header declaring gigabytes), and
// truncated, damaged or incomplete archives refused with one line naming file and entry.
// Fixtures: tools/make_model_fixtures.py.
#include "stages/error.hpp"
#include "stages/infer/import/keras3_archive.hpp"
#include "stages/infer/import/keras_h5.hpp"
#include "tests/support/model_fixtures.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace atrous::infer
{
namespace
{

using test::fixture;

using test::model_error;

std::vector<char> bytes_of(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Writes `bytes` to a file of the test's temporary directory and returns its path.
std::filesystem::path temp_file(const std::string& name, const std::vector<char>& bytes)
{
    const auto path = std::filesystem::path(::testing::TempDir()) / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

bool starts_with(const std::string& text, const std::string& prefix)
{
    return text.rfind(prefix, 0) == 0;
}

TEST(Keras3Archive, ReadsTheThreeEntries)
{
    const KerasArchive archive = read_keras_archive(fixture("tiny.keras"));
    const auto config = nlohmann::json::parse(archive.config_json);
    EXPECT_EQ(config["class_name"], "Functional");
    EXPECT_EQ(config["module"], "keras.src.models.functional");
    EXPECT_EQ(nlohmann::json::parse(archive.metadata_json)["keras_version"], "3.16.0");
    ASSERT_GT(archive.weights_h5.size(), 8u);
    EXPECT_EQ(archive.weights_h5[1], 'H'); // "\x89HDF\r\n\x1a\n"
}

TEST(Keras3Archive, ToldApartByContentNotByName)
{
    EXPECT_TRUE(is_zip_file(fixture("tiny.keras")));
    EXPECT_FALSE(is_zip_file(fixture("tiny_full.h5")));
    EXPECT_FALSE(is_zip_file(fixture("not_hdf5.h5")));
    EXPECT_FALSE(is_zip_file(fixture("no_such_file.keras")));
    // A .keras file renamed .h5 still loads as one.
    const auto renamed = temp_file("renamed_keras.h5", bytes_of(fixture("tiny.keras")));
    EXPECT_EQ(load_keras_h5(renamed).layers.size(),
              load_keras_h5(fixture("tiny_full.h5")).layers.size());
}

TEST(Keras3Archive, DeflatedEntriesReadLikeStoredOnes)
{
    // broken_wrong_shape.keras is deflated (zip -r style); its config reads whole.
    const KerasArchive archive = read_keras_archive(fixture("broken_wrong_shape.keras"));
    EXPECT_EQ(nlohmann::json::parse(archive.config_json)["class_name"], "Functional");
}

TEST(Keras3Archive, EachEntryIsBoundedBeforeItIsRead)
{
    const std::string path = fixture("tiny.keras").string();
    KerasArchiveLimits limits;
    limits.json_bytes = 1000;
    const std::string json = model_error([&] { read_keras_archive(path, limits); });
    EXPECT_TRUE(starts_with(json, "model " + path + ": entry config.json: ")) << json;
    EXPECT_NE(json.find(" bytes uncompressed declared, more than the limit of 1000 bytes"),
              std::string::npos)
        << json;
    limits = {};
    limits.weights_bytes = 4096;
    const std::string weights = model_error([&] { read_keras_archive(path, limits); });
    EXPECT_TRUE(starts_with(weights, "model " + path + ": entry model.weights.h5: ")) << weights;
    EXPECT_NE(weights.find("more than the limit of 4096 bytes"), std::string::npos) << weights;
}

TEST(Keras3Archive, RefusesZipBombs)
{
    // Keras' rule, with a floor low enough for a small deflated entry that expands > 2x.
    const std::string deflated = fixture("broken_wrong_shape.keras").string();
    KerasArchiveLimits limits;
    limits.bomb_floor_bytes = 1024;
    limits.max_expansion = 2;
    const std::string ratio = model_error([&] { read_keras_archive(deflated, limits); });
    EXPECT_TRUE(starts_with(ratio, "model " + deflated + ": entry config.json: ")) << ratio;
    EXPECT_NE(ratio.find("refused as a likely zip bomb"), std::string::npos) << ratio;
    // A header declaring 3 GiB for a 1 KB entry, through the loader with its default limits.
    const std::string bomb = fixture("broken_bomb.keras").string();
    EXPECT_EQ(model_error([&] { load_keras_h5(bomb); }),
              "model " + bomb +
                  ": entry config.json: 3221225472 bytes uncompressed declared, more than the "
                  "limit of 67108864 bytes");
}

TEST(Keras3Archive, TruncatedDamagedOrIncompleteArchives)
{
    const std::vector<char> good = bytes_of(fixture("tiny.keras"));
    ASSERT_GT(good.size(), 4096u);
    // An interrupted copy: the central directory at the end is gone.
    const auto cut = temp_file(
        "truncated.keras",
        std::vector<char>(good.begin(), good.begin() + static_cast<long>(good.size() * 6 / 10)));
    const std::string truncated = model_error([&] { load_keras_h5(cut); });
    EXPECT_TRUE(
        starts_with(truncated, "model " + cut.string() + ": not a readable zip archive (libzip: "))
        << truncated;
    EXPECT_NE(truncated.find("); truncated or damaged?"), std::string::npos) << truncated;
    // One flipped byte inside the stored model.weights.h5 (the last entry, before the ~200-byte
    // central directory): its CRC-32 no longer matches.
    std::vector<char> flipped = good;
    flipped[flipped.size() - 1000] ^= 0x5a;
    const auto damaged = temp_file("damaged.keras", flipped);
    const std::string crc = model_error([&] { load_keras_h5(damaged); });
    EXPECT_TRUE(starts_with(crc, "model " + damaged.string() +
                                     ": entry model.weights.h5: damaged (libzip: "))
        << crc;
    // Saved without weights.
    const std::string no_weights = fixture("broken_no_weights.keras").string();
    EXPECT_EQ(model_error([&] { load_keras_h5(no_weights); }),
              "model " + no_weights +
                  ": entry model.weights.h5 is missing; a .keras file saved with its weights "
                  "expected");
}

} // namespace
} // namespace atrous::infer
