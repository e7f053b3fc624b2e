// SPDX-License-Identifier: Apache-2.0
// Purpose: read a Keras model file (HDF5: save_weights or model.save layout, Keras 2 or 3 names;
// Keras 3 .keras or .weights.h5) into a ModelSpec with weights attached.
#pragma once

#include "stages/infer/import/architecture.hpp"
#include "stages/infer/import/model_spec.hpp"

#include <filesystem>
#include <optional>

namespace atrous::infer
{

/// Loads `path`. With a `model_config` attribute the graph comes from it (Functional or
/// Sequential); otherwise from `architecture`, which must then be given. Weights are matched to
/// layers by name, falling back to the order of weighted layers as Keras does.
/// Keras 3 files are recognized by their content, whatever their name: a zip is a `.keras`
/// file (load_keras3_archive), an HDF5 file in Keras 3's weights layout a `.weights.h5` file
/// (load_keras3_weights_file, which needs `architecture`).
/// Throws ModelError ("model <path>: ..." or "layer <name>: ...") on anything unusable: not HDF5,
/// not Keras, truncated, missing layer, wrong shape (expected and found), unsupported class.
ModelSpec load_keras_h5(const std::filesystem::path& path,
                        const std::optional<Architecture>& architecture = std::nullopt);

} // namespace atrous::infer
