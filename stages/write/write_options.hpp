// SPDX-License-Identifier: Apache-2.0
// Purpose: options of the write stage (config section `output`).
#pragma once

#include <filesystem>
#include <string>

namespace atrous
{

enum class ProbabilityFormat
{
    none,
    uint8,   // round(p * 255)
    float32,
};

struct WriteOptions
{
    std::filesystem::path path;                  // the HDF5 file written
    ProbabilityFormat probabilities = ProbabilityFormat::none;
    double threshold = 0.5;                      // 1-class models: mask = p >= threshold
    std::string compression = "deflate";         // "deflate" or "none"
    int compression_level = 4;                   // deflate level 1..9
    /// Provenance written as attributes.
    std::string model_sha256;
    std::string config_yaml;
};

} // namespace atrous
