// SPDX-License-Identifier: Apache-2.0
// Purpose: the engine's layer graph: built from a ModelSpec (validated, topologically sorted,
// BatchNormalization folded), planned per input shape, run in a reused activation arena.
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/engine/model.hpp"
#include "stages/infer/engine/workspace_pool.hpp"
#include "stages/infer/import/model_spec.hpp"

#include <memory>
#include <string>
#include <vector>

namespace atrous::infer
{

/// One layer and its wiring. `inputs` index earlier nodes (the order is topological).
struct Node
{
    std::unique_ptr<Layer> layer;
    std::vector<int> inputs;
    int uses = 0; // edges to later nodes, plus one for the model output
};

class Graph
{
public:
    /// Validates and builds; throws ModelError (unsupported classes listed together, unknown
    /// inbound layer, cycle, several inputs/outputs, weight and shape errors naming the layer).
    Graph(const ModelSpec& spec, const BuildOptions& options);

    const std::string& name() const { return m_name; }
    const ModelFacts& facts() const { return m_facts; }
    const std::vector<Node>& nodes() const { return m_nodes; }
    int input_node() const { return m_input; }
    int output_node() const { return m_output; }

    /// Shape of every node's output for this input; throws ModelError when the input is not
    /// accepted (channels, stride multiple, fixed size) or a layer rejects its shapes.
    std::vector<Shape> plan(const Shape& input) const;

    /// Runs all nodes in order in an activation arena leased from the graph's pool (planned once
    /// per input shape, reused by later calls); thread-safe. When `layer_seconds` is set it
    /// receives each node's wall time (ForwardOptions::layer_seconds); when
    /// `first_non_finite_layer` is set, the first node whose output holds NaN/Inf
    /// (ForwardOptions::first_non_finite_layer).
    Tensor run(const Tensor& input, KernelKind kernels,
               std::vector<double>* layer_seconds = nullptr,
               std::string* first_non_finite_layer = nullptr) const;

    /// How forward() plans its activations (BuildOptions::concat_in_place).
    const PlanOptions& plan_options() const { return m_plan_options; }
    /// The (cached) activation plan for `input`.
    std::shared_ptr<const ActivationPlan> activation_plan(const Shape& input) const
    {
        return m_workspaces.plan(*this, input);
    }
    WorkspaceStats workspace_stats() const { return m_workspaces.stats(); }

private:
    void fold_batch_norms();
    void compute_facts(const std::vector<Shape>& build_shapes);

    std::string m_name;
    std::string m_where; // "model <source>" for messages
    std::vector<Node> m_nodes;
    int m_input = 0;
    int m_output = 0;
    ModelFacts m_facts;
    /// True when paths of different strides merge (U-Net skips): then any other size would
    /// misalign them, so sizes must be multiples of total_stride. A plain chain accepts any
    /// size (Keras floor semantics).
    bool m_needs_stride_multiple = false;
    PlanOptions m_plan_options;
    /// Arenas and plans: caches behind a mutex, invisible to the callers (forward() is const).
    mutable WorkspacePool m_workspaces;
};

} // namespace atrous::infer
