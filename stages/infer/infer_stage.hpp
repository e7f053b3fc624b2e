// SPDX-License-Identifier: Apache-2.0
// Purpose: `infer`, the stage that runs the network on each tile: loads the model named by the
// config, checks the input against it, and maps RasterTile -> Prediction.
#pragma once

#include "stages/infer/engine/finite_scan.hpp"
#include "stages/infer/engine/model.hpp"
#include "stages/infer/infer_options.hpp"
#include "stages/stage.hpp"

#include <memory>
#include <string>

namespace atrous
{

class InferStage final : public Inferer
{
public:
    explicit InferStage(InferOptions options, infer::ForwardOptions forward = {});
    ~InferStage() override;

    std::string_view name() const override { return "infer"; }

    /// Loads the model: load_keras_h5(weights, architecture), or for a placeholder the built-in
    /// architecture with random weights. Throws ModelError naming the file or layer. Idempotent.
    void prepare(const RunContext& context) override;

    /// The loaded model; valid after prepare().
    const infer::Model& model() const;

    /// Checks that the raster delivers what the model takes: InputError("infer", "the input
    /// delivers 3 bands, the model takes 1 channels ...") otherwise.
    void check_input(const RasterInfo& info) const;

    /// Runs Model::forward on tile.pixels; empty tiles are not run (empty prediction). Spatial
    /// models give 1 x h x w x C over the window, classifiers 1 x 1 x 1 x C. Thread-safe.
    /// An output holding NaN/Inf is never passed on: ModelError naming the tile, its window and
    /// the first such value (with InferOptions::diagnose_non_finite also the first layer whose
    /// output went non-finite).
    Prediction infer(const RasterTile& tile) const override;

private:
    [[noreturn]] void throw_non_finite(const RasterTile& tile, const infer::NonFinite& bad) const;

    InferOptions m_options;
    infer::ForwardOptions m_forward;
    std::unique_ptr<infer::Model> m_model;
};

} // namespace atrous
