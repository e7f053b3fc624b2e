// SPDX-License-Identifier: Apache-2.0
// Purpose: options of the infer stage (config section `model`).
#pragma once

#include "stages/infer/engine/model.hpp"
#include "stages/infer/import/architecture.hpp"

#include <filesystem>
#include <optional>

namespace atrous
{

struct InferOptions
{
    std::filesystem::path weights;                   // Keras HDF5 (save_weights or model.save)
    std::optional<infer::Architecture> architecture; // needed when the file has no model_config
    /// Set only by `atrous demo` when no demo model ships: no weights file is read; the
    /// architecture (required) gets deterministic random weights from this seed. Not a config key.
    std::optional<unsigned> placeholder_seed;
    /// Config key runtime.precision (a `runtime` key because it changes how, not what, is
    /// computed; it still enters the resume fingerprint: bf16 changes the numbers).
    infer::Precision precision = infer::Precision::fp32;
    /// Set by `atrous run --debug`: a tile whose output is not finite is run again layer by
    /// layer to name the first layer that went non-finite. Not a config key.
    bool diagnose_non_finite = false;
};

} // namespace atrous
