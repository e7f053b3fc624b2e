// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras 3 `.keras` and `.weights.h5` files -> ModelSpec with weights attached.
#include "keras3_model.hpp"

#include "stages/error.hpp"
#include "stages/infer/import/keras3_weights.hpp"
#include "stages/infer/import/keras_config.hpp"

namespace atrous::infer
{

ModelSpec load_keras3_archive(const std::filesystem::path& path, const KerasArchiveLimits& limits)
{
    KerasArchive archive = read_keras_archive(path, limits);
    // Errors about the config name the entry; later ones ("no weights for it in ...") the file.
    ModelSpec spec = spec_from_model_config_text(archive.config_json,
                                                 path.string() + ": entry " + keras_config_entry);
    spec.source = path.string();
    const H5File weights(archive.weights_h5,
                         "model " + path.string() + ": entry " + keras_weights_entry);
    archive.weights_h5 = {}; // HDF5 holds its own copy of the image
    if (weights.exists("/_layer_checkpoint_dependencies"))
        throw ModelError(weights.where(),
                         "tf.keras 2.13-2.15 layout (_layer_checkpoint_dependencies) "
                         "is not supported; save with Keras 3, or as .h5");
    if (!is_keras3_weights_layout(weights))
        throw ModelError(weights.where(), "no /layers group; Keras 3's weights layout "
                                          "(layers/<name>/vars/0, ...) expected");
    attach_keras3_weights(spec, weights, path.string() + " (" + keras_weights_entry + ")");
    return spec;
}

ModelSpec load_keras3_weights_file(const H5File& file, const std::filesystem::path& path,
                                   const std::optional<Architecture>& architecture)
{
    if (!architecture)
        throw ModelError(file.where(), "Keras 3 weights file (save_weights) without a model "
                                       "config; give model.architecture");
    ModelSpec spec = builtin_model_spec(*architecture);
    spec.source = path.string();
    attach_keras3_weights(spec, file, path.string());
    return spec;
}

} // namespace atrous::infer
