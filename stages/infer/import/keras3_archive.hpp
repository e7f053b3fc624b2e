// SPDX-License-Identifier: Apache-2.0
// Purpose: read the entries of a Keras 3 `.keras` file (a zip archive) into memory, with every
// entry's size bounded before it is read (zip bombs) and one-line errors naming file and entry.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace atrous::infer
{

/// True when the file starts with a zip signature (a local file header "PK\3\4", or the end
/// record "PK\5\6" of an empty archive): how a `.keras` file is told from HDF5, whatever its
/// name. False for a file that cannot be read (the HDF5 loader then reports it).
bool is_zip_file(const std::filesystem::path& path);

/// What the archive reader accepts. An entry is refused, before any of it is read, when its
/// declared uncompressed size exceeds its cap, or exceeds `bomb_floor_bytes` while expanding to
/// more than `max_expansion` times its stored size (Keras' own rule: saving_lib's
/// _reject_zip_extract_bomb, 256 MiB and 100x). Keras writes entries stored, ratio 1.
struct KerasArchiveLimits
{
    std::uint64_t json_bytes = std::uint64_t{64} << 20;   // config.json, metadata.json
    std::uint64_t weights_bytes = std::uint64_t{8} << 30; // model.weights.h5 (2 G float32)
    std::uint64_t bomb_floor_bytes = std::uint64_t{256} << 20;
    std::uint64_t max_expansion = 100;
};

/// The entries of a `.keras` file atrous uses (keras/src/saving/saving_lib.py writes
/// metadata.json, config.json and model.weights.h5; an `assets/` folder is ignored).
struct KerasArchive
{
    std::string config_json;   // the serialized model (serialize_keras_object)
    std::string metadata_json; // {"keras_version": ..., "date_saved": ...}; may be empty
    std::vector<unsigned char> weights_h5; // model.weights.h5, an HDF5 file image
};

/// The entry names inside a `.keras` file.
inline constexpr const char* keras_config_entry = "config.json";
inline constexpr const char* keras_metadata_entry = "metadata.json";
inline constexpr const char* keras_weights_entry = "model.weights.h5";

/// Reads config.json, metadata.json (optional) and model.weights.h5 of the zip at `path`.
/// Throws ModelError "model <path>: ..." when the file is not a readable zip (truncated,
/// damaged), and "model <path>: entry <name>: ..." when an entry is missing, over its limit,
/// encrypted, or fails its checksum.
KerasArchive read_keras_archive(const std::filesystem::path& path,
                                const KerasArchiveLimits& limits = {});

} // namespace atrous::infer
