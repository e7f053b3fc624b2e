// SPDX-License-Identifier: Apache-2.0
// Purpose: Model, the engine's public face, over Graph.

#include "model.hpp"

#include "graph.hpp"

namespace atrous::infer
{

Model::Model(const ModelSpec& spec, const BuildOptions& options)
    : m_graph(std::make_unique<Graph>(spec, options))
{
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const ModelFacts& Model::facts() const
{
    return m_graph->facts();
}
const std::string& Model::name() const
{
    return m_graph->name();
}

Shape Model::output_shape(Shape input) const
{
    return m_graph->plan(input)[m_graph->output_node()];
}

std::vector<LayerInfo> Model::describe(Shape input) const
{
    const std::vector<Shape> shapes = m_graph->plan(input);
    const std::vector<Node>& nodes = m_graph->nodes();
    std::vector<LayerInfo> rows;
    for (std::size_t i = 0; i < nodes.size(); ++i)
    {
        std::vector<Shape> in_shapes;
        for (int p : nodes[i].inputs)
            in_shapes.push_back(shapes[p]);
        const Layer& layer = *nodes[i].layer;
        rows.push_back(LayerInfo{layer.name(), layer.class_name() + layer.note(), shapes[i],
                                 layer.params(), layer.flops(in_shapes, shapes[i])});
    }
    return rows;
}

long long Model::params() const
{
    long long total = 0;
    for (const Node& node : m_graph->nodes())
        total += node.layer->params();
    return total;
}

double Model::flops(Shape input) const
{
    double total = 0;
    for (const LayerInfo& row : describe(input))
        total += row.flops;
    return total;
}

Tensor Model::forward(const Tensor& input, const ForwardOptions& options) const
{
    return m_graph->run(input, options.kernels, options.layer_seconds,
                        options.first_non_finite_layer);
}

ActivationMemory Model::activation_memory(Shape input) const
{
    const std::shared_ptr<const ActivationPlan> plan = m_graph->activation_plan(input);
    PlanOptions copying;
    copying.concat_in_place = false;
    const ActivationPlan copy_plan = plan_activations(*m_graph, input, copying);
    ActivationMemory m;
    m.arena_bytes = plan->arena_bytes;
    m.lower_bound_bytes = plan->lower_bound_bytes;
    m.input_bytes = plan->input_bytes;
    m.output_bytes = plan->output_bytes;
    m.concat_inputs_in_place = plan->concat_inputs_in_place;
    m.concat_inputs_copied = plan->concat_inputs_copied;
    m.copying_arena_bytes = copy_plan.arena_bytes;
    m.copying_lower_bound_bytes = copy_plan.lower_bound_bytes;
    return m;
}

WorkspaceStats Model::workspace_stats() const
{
    return m_graph->workspace_stats();
}

} // namespace atrous::infer
