// SPDX-License-Identifier: Apache-2.0
// Purpose: the `atrous info` text for a model: layer table, parameters, cost per tile and the
// tiling facts (receptive field, total stride, halo).
#pragma once

#include "stages/infer/engine/model.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace atrous::infer
{

/// Multi-line report for a tile of shape `input` (n, h, w, in_channels): one row per layer in
/// execution order (name, class, output shape, params, MFLOP), then total params, GFLOP per
/// tile, receptive field radius, total stride, halo for exact tiling, output activation, and the
/// activation memory (planned arena next to the lower bound for the layer order; the same with
/// every Concatenate copying its inputs).
/// Throws ModelError when the model does not accept `input`.
std::string format_model_report(const Model& model, Shape input);

/// The same report as JSON (`atrous info --json`): {"model", "input": [n,h,w,c], "layers":
/// [{"name", "class", "output": [n,h,w,c], "params", "flops"}], "params", "gflop_per_tile",
/// "receptive_radius_px", "total_stride", "halo_px" (spatial models) or "fixed_input"
/// (classifiers), "output": {"channels", "activation"}, "activation_memory": {bytes ...}}.
nlohmann::json model_report_json(const Model& model, Shape input);

} // namespace atrous::infer
