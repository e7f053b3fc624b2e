// SPDX-License-Identifier: Apache-2.0
// Purpose: formats Model::describe() and ModelFacts as the `atrous info` report.

#include "model_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

namespace atrous::infer
{
namespace
{

std::string shape_text(const Shape& s)
{
    std::ostringstream os;
    os << s;
    return os.str();
}

/// 31031685 -> "31,031,685".
std::string grouped(long long value)
{
    std::string digits = std::to_string(value < 0 ? -value : value);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i)
    {
        if (i > 0 && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return (value < 0 ? "-" : "") + out;
}

std::string mib(std::size_t bytes)
{
    return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

} // namespace

std::string format_model_report(const Model& model, Shape input)
{
    const std::vector<LayerInfo> rows = model.describe(input);
    const ModelFacts& facts = model.facts();
    std::size_t name_width = 5;
    std::size_t class_width = 5;
    for (const LayerInfo& row : rows)
    {
        name_width = std::max(name_width, row.name.size());
        class_width = std::max(class_width, row.class_name.size());
    }

    std::string out = fmt::format("model {}: {} layers, input {}\n\n", model.name(), rows.size(),
                                  shape_text(input));
    out += fmt::format("{:<{}}  {:<{}}  {:<18}  {:>12}  {:>12}\n", "layer", name_width, "class",
                       class_width, "output", "params", "MFLOP");
    double total_flops = 0;
    for (const LayerInfo& row : rows)
    {
        out += fmt::format("{:<{}}  {:<{}}  {:<18}  {:>12}  {:>12.1f}\n", row.name, name_width,
                           row.class_name, class_width, shape_text(row.output), grouped(row.params),
                           row.flops / 1e6);
        total_flops += row.flops;
    }
    out += "\n";
    out += fmt::format("total params:            {}\n", grouped(model.params()));
    out += fmt::format("GFLOP per tile:          {:.2f} ({}x{}x{}, batch {})\n", total_flops / 1e9,
                       input.h, input.w, input.c, input.n);
    if (facts.spatial)
    {
        out += fmt::format("receptive field radius:  {} px\n", facts.receptive_radius_px);
        out += fmt::format("total stride:            {} (tile sizes must be multiples)\n",
                           facts.total_stride);
        out += fmt::format("halo for exact tiling:   {} px\n", facts.halo_px);
    }
    else
        out += fmt::format("classifier:              fixed input {}x{}\n", facts.fixed_height,
                           facts.fixed_width);
    out += fmt::format("output:                  {} channel(s), {}\n", facts.out_channels,
                       facts.output_activation);
    const ActivationMemory m = model.activation_memory(input);
    out += fmt::format("activation arena:        {} planned, lower bound {} for this layer "
                       "order (input {} and output {} outside)\n",
                       mib(m.arena_bytes), mib(m.lower_bound_bytes), mib(m.input_bytes),
                       mib(m.output_bytes));
    const int concat_inputs = m.concat_inputs_in_place + m.concat_inputs_copied;
    if (concat_inputs > 0)
        out += fmt::format("concatenation in place:  {} of {} Concatenate inputs (copying all: "
                           "{} planned, lower bound {})\n",
                           m.concat_inputs_in_place, concat_inputs, mib(m.copying_arena_bytes),
                           mib(m.copying_lower_bound_bytes));
    return out;
}

nlohmann::json model_report_json(const Model& model, Shape input)
{
    const auto shape = [](const Shape& s) { return nlohmann::json::array({s.n, s.h, s.w, s.c}); };
    const ModelFacts& facts = model.facts();
    nlohmann::json j;
    j["model"] = model.name();
    j["input"] = shape(input);
    j["layers"] = nlohmann::json::array();
    double total_flops = 0;
    for (const LayerInfo& row : model.describe(input))
    {
        j["layers"].push_back({{"name", row.name},
                               {"class", row.class_name},
                               {"output", shape(row.output)},
                               {"params", row.params},
                               {"flops", row.flops}});
        total_flops += row.flops;
    }
    j["params"] = model.params();
    j["gflop_per_tile"] = total_flops / 1e9;
    if (facts.spatial)
    {
        j["receptive_radius_px"] = facts.receptive_radius_px;
        j["total_stride"] = facts.total_stride;
        j["halo_px"] = facts.halo_px;
    }
    else
        j["fixed_input"] = {facts.fixed_height, facts.fixed_width};
    j["output"] = {{"channels", facts.out_channels}, {"activation", facts.output_activation}};
    const ActivationMemory m = model.activation_memory(input);
    j["activation_memory"] = {{"arena_bytes", m.arena_bytes},
                              {"lower_bound_bytes", m.lower_bound_bytes},
                              {"input_bytes", m.input_bytes},
                              {"output_bytes", m.output_bytes},
                              {"concat_inputs_in_place", m.concat_inputs_in_place},
                              {"concat_inputs_copied", m.concat_inputs_copied},
                              {"copying_arena_bytes", m.copying_arena_bytes},
                              {"copying_lower_bound_bytes", m.copying_lower_bound_bytes}};
    return j;
}

} // namespace atrous::infer
