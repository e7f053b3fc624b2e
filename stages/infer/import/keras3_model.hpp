// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras 3 files -> ModelSpec: a `.keras` zip (config.json + model.weights.h5), or a
// `.weights.h5` file (Keras 3 weights layout) with a built-in architecture.
#pragma once

#include "stages/infer/import/architecture.hpp"
#include "stages/infer/import/h5_file.hpp"
#include "stages/infer/import/keras3_archive.hpp"
#include "stages/infer/import/model_spec.hpp"

#include <filesystem>
#include <optional>

namespace atrous::infer
{

/// Loads a `.keras` file (model.save in Keras 3): the graph from config.json (Functional or
/// Sequential, as spec_from_keras_config), the weights from model.weights.h5, read in memory.
/// Throws ModelError naming the file and the entry (see read_keras_archive).
ModelSpec load_keras3_archive(const std::filesystem::path& path,
                              const KerasArchiveLimits& limits = {});

/// A Keras 3 `.weights.h5` file (`file`, opened from `path`) has no model config: the graph is
/// `architecture`, whose layer order is Keras' model.layers order for the seed models. Throws
/// ModelError when no architecture is given.
ModelSpec load_keras3_weights_file(const H5File& file, const std::filesystem::path& path,
                                   const std::optional<Architecture>& architecture);

} // namespace atrous::infer
