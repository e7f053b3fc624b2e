// SPDX-License-Identifier: Apache-2.0
// Purpose: `infer`: model loading, the input check and the per-tile forward pass.
#include "infer_stage.hpp"

#include "stages/error.hpp"
#include "stages/infer/engine/finite_scan.hpp"
#include "stages/infer/image_tensor.hpp"
#include "stages/infer/import/architecture.hpp"
#include "stages/infer/import/keras_h5.hpp"

#include <fmt/format.h>

#include <utility>

namespace atrous
{

InferStage::InferStage(InferOptions options, infer::ForwardOptions forward)
    : m_options(std::move(options)), m_forward(forward)
{
}

InferStage::~InferStage() = default;

void InferStage::prepare(const RunContext&)
{
    if (m_model)
        return;
    if (m_options.placeholder_seed)
    {
        if (!m_options.architecture)
            throw ModelError("infer", "a placeholder model needs model.architecture");
        infer::BuildOptions build;
        build.initialize_missing_weights = true;
        build.seed = *m_options.placeholder_seed;
        build.precision = m_options.precision;
        m_model = std::make_unique<infer::Model>(infer::builtin_model_spec(*m_options.architecture),
                                                 build);
        return;
    }
    try
    {
        infer::BuildOptions build;
        build.precision = m_options.precision;
        m_model = std::make_unique<infer::Model>(
            infer::load_keras_h5(m_options.weights, m_options.architecture), build);
    }
    catch (const ModelError& e)
    {
        // Graph errors name a layer only; the user also needs to know which file holds it.
        const std::string file = m_options.weights.string();
        if (std::string(e.what()).find(file) != std::string::npos)
            throw;
        throw ModelError("model " + file, e.what());
    }
}

const infer::Model& InferStage::model() const
{
    if (!m_model)
        throw Error("infer", "model() before prepare()");
    return *m_model;
}

void InferStage::check_input(const RasterInfo& info) const
{
    const auto& facts = model().facts();
    if (info.bands != facts.in_channels)
        throw InputError("infer",
                         fmt::format("{}: {} band{} delivered, the model takes {} input "
                                     "channel{} (choose bands with input.bands)",
                                     info.path, info.bands, info.bands == 1 ? "" : "s",
                                     facts.in_channels, facts.in_channels == 1 ? "" : "s"));
}

Prediction InferStage::infer(const RasterTile& tile) const
{
    Prediction p;
    p.task = tile.task;
    p.valid = tile.valid;
    p.empty = tile.empty;
    if (tile.empty)
        return p;
    infer::Tensor out = model().forward(infer::tensor_view(tile.pixels), m_forward);
    if (const auto bad = infer::first_non_finite(out))
        throw_non_finite(tile, *bad);
    p.probabilities = infer::to_image(std::move(out));
    return p;
}

void InferStage::throw_non_finite(const RasterTile& tile, const infer::NonFinite& bad) const
{
    const Window& w = tile.task.window;
    // Spatial outputs cover the window pixel for pixel; a classifier's is one cell per tile.
    const std::string where =
        model().facts().spatial
            ? fmt::format("at pixel (x {}, y {}) channel {}", w.x + bad.x, w.y + bad.y, bad.c)
            : fmt::format("in class {}", bad.c);
    std::string layer = "run with --debug to name the first layer whose output goes non-finite";
    if (m_options.diagnose_non_finite)
    {
        infer::ForwardOptions diagnose = m_forward;
        std::string first;
        diagnose.first_non_finite_layer = &first;
        (void)model().forward(infer::tensor_view(tile.pixels), diagnose);
        layer = first.empty() ? "no layer's output was non-finite when the tile was run again"
                              : "the first layer whose output went non-finite: " + first;
    }
    throw ModelError(
        "infer",
        fmt::format("tile {} (grid row {}, column {}; input window x {}..{}, y {}..{}): the "
                    "network output holds {} {}; nothing of it is written. The model overflows "
                    "float32 on this input (check input.normalize and the weights); {}",
                    tile.task.id, tile.task.row, tile.task.col, w.x, w.x + w.width - 1, w.y,
                    w.y + w.height - 1, infer::non_finite_name(bad.value), where, layer));
}

} // namespace atrous
