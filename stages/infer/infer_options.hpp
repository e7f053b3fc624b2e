// SPDX-License-Identifier: Apache-2.0
// Purpose: options of the infer stage (config section `model`).
#pragma once

#include "stages/infer/import/architecture.hpp"

#include <filesystem>
#include <optional>

namespace atrous
{

struct InferOptions
{
    std::filesystem::path weights;                     // Keras HDF5 (save_weights or model.save)
    std::optional<infer::Architecture> architecture;   // needed when the file has no model_config
};

} // namespace atrous
