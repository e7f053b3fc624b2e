// SPDX-License-Identifier: Apache-2.0
// Purpose: graph construction (checks, topological sort, BN folding, model facts) and execution.

#include "graph.hpp"

#include "stages/infer/engine/finite_scan.hpp"
#include "stages/infer/import/weight_check.hpp"
#include "stages/infer/layers/batch_normalization.hpp"
#include "stages/infer/layers/identity.hpp"
#include "stages/infer/layers/layer_factory.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

namespace atrous::infer
{
namespace
{

std::string join(const std::vector<std::string>& items, const std::string& separator)
{
    std::string out;
    for (const std::string& item : items)
        out += (out.empty() ? "" : separator) + item;
    return out;
}

std::string shape_string(const Shape& s)
{
    std::ostringstream os;
    os << s;
    return os.str();
}

} // namespace

Graph::Graph(const ModelSpec& spec, const BuildOptions& options)
    : m_name(spec.name), m_where("model " + (spec.source.empty() ? spec.name : spec.source))
{
    m_plan_options.concat_in_place = options.concat_in_place;
    // 0. Whatever loaded the spec: no NaN, Inf or overflowing weight reaches a layer.
    check_weights(spec, m_where);
    // 1. Every class must be supported: report all of them at once.
    std::vector<std::string> unsupported;
    for (const LayerSpec& layer : spec.layers)
        if (!is_supported_layer_class(layer.class_name))
            unsupported.push_back(layer.class_name + " (layer " + layer.name + ")");
    if (!unsupported.empty())
        throw ModelError(m_where, "unsupported layer class(es): " + join(unsupported, ", ") +
                                      "; supported: " + join(supported_layer_classes(), ", "));

    // 2. Names unique, inbound names known.
    std::map<std::string, int> index;
    for (std::size_t i = 0; i < spec.layers.size(); ++i)
        if (!index.emplace(spec.layers[i].name, static_cast<int>(i)).second)
            throw ModelError(m_where, "duplicate layer name " + spec.layers[i].name);
    for (const LayerSpec& layer : spec.layers)
    {
        for (const std::string& in : layer.inputs)
            if (!index.count(in))
                throw ModelError("layer " + layer.name,
                                 "input '" + in + "' is not a layer of the model");
        if (layer.inputs.empty() && layer.class_name != "InputLayer")
            throw ModelError("layer " + layer.name, "no inputs (only an InputLayer has none)");
    }

    // 3. Input and output layers.
    std::vector<std::string> inputs = spec.inputs;
    if (inputs.empty())
        for (const LayerSpec& layer : spec.layers)
            if (layer.class_name == "InputLayer")
                inputs.push_back(layer.name);
    if (inputs.size() != 1)
        throw ModelError(m_where, "exactly one input layer expected, " +
                                      std::to_string(inputs.size()) + " found (" +
                                      join(inputs, ", ") + ")");
    std::vector<std::string> outputs = spec.outputs;
    if (outputs.empty())
    {
        std::set<std::string> consumed;
        for (const LayerSpec& layer : spec.layers)
            consumed.insert(layer.inputs.begin(), layer.inputs.end());
        for (const LayerSpec& layer : spec.layers)
            if (!consumed.count(layer.name))
                outputs.push_back(layer.name);
    }
    if (outputs.size() != 1)
        throw ModelError(m_where, "exactly one output layer expected, " +
                                      std::to_string(outputs.size()) + " found (" +
                                      join(outputs, ", ") + ")");
    for (const std::string& name : {inputs[0], outputs[0]})
        if (!index.count(name))
            throw ModelError(m_where, "input/output layer '" + name + "' is not a layer");
    if (spec.layers[index[inputs[0]]].class_name != "InputLayer")
        throw ModelError("layer " + inputs[0], "the model input must be an InputLayer");

    // 4. Topological sort (Kahn), preferring spec order among ready layers; only the layers the
    //    output depends on are kept.
    const int count = static_cast<int>(spec.layers.size());
    std::vector<bool> needed(count, false);
    {
        std::vector<int> stack{index[outputs[0]]};
        while (!stack.empty())
        {
            const int i = stack.back();
            stack.pop_back();
            if (needed[i])
                continue;
            needed[i] = true;
            for (const std::string& in : spec.layers[i].inputs)
                stack.push_back(index[in]);
        }
    }
    std::vector<int> pending(count, 0);
    std::vector<std::vector<int>> consumers(count);
    for (int i = 0; i < count; ++i)
        if (needed[i])
            for (const std::string& in : spec.layers[i].inputs)
            {
                ++pending[i];
                consumers[index[in]].push_back(i);
            }
    std::set<int> ready;
    for (int i = 0; i < count; ++i)
        if (needed[i] && pending[i] == 0)
            ready.insert(i);
    std::vector<int> order;
    while (!ready.empty())
    {
        const int i = *ready.begin();
        ready.erase(ready.begin());
        order.push_back(i);
        for (int c : consumers[i])
            if (--pending[c] == 0)
                ready.insert(c);
    }
    const int needed_count = static_cast<int>(std::count(needed.begin(), needed.end(), true));
    if (static_cast<int>(order.size()) != needed_count)
    {
        std::vector<std::string> cyclic;
        for (int i = 0; i < count; ++i)
            if (needed[i] && pending[i] > 0)
                cyclic.push_back(spec.layers[i].name);
        throw ModelError(m_where, "cycle through layers " + join(cyclic, ", "));
    }
    for (int i : order)
        if (spec.layers[i].class_name == "InputLayer" && spec.layers[i].name != inputs[0])
            throw ModelError(m_where, "the output depends on input layer " + spec.layers[i].name +
                                          " besides the model input " + inputs[0] +
                                          " (atrous runs single-input models)");
    if (spec.layers[order.front()].name != inputs[0])
        throw ModelError(m_where, "the output does not depend on input " + inputs[0]);

    // 5. Build the layers in order with build-time shapes (unknown sizes are 0).
    std::vector<int> position(count, -1);
    std::vector<Shape> shapes;
    for (int i : order)
    {
        const LayerSpec& layer = spec.layers[i];
        Node node;
        std::vector<Shape> in_shapes;
        for (const std::string& in : layer.inputs)
        {
            const int p = position[index[in]];
            node.inputs.push_back(p);
            in_shapes.push_back(shapes[p]);
            ++m_nodes[p].uses;
        }
        node.layer = make_layer(layer, in_shapes, options);
        shapes.push_back(node.layer->output_shape(in_shapes));
        position[i] = static_cast<int>(m_nodes.size());
        m_nodes.push_back(std::move(node));
    }
    m_input = 0;
    m_output = position[index[outputs[0]]];
    ++m_nodes[m_output].uses;

    fold_batch_norms();
    shapes.clear();
    for (const Node& node : m_nodes)
    {
        std::vector<Shape> in_shapes;
        for (int p : node.inputs)
            in_shapes.push_back(shapes[p]);
        shapes.push_back(node.layer->output_shape(in_shapes));
    }
    compute_facts(shapes);
}

void Graph::fold_batch_norms()
{
    // A BatchNormalization whose producer feeds only it folds into that producer (if linear).
    std::vector<int> replace(m_nodes.size());
    for (std::size_t i = 0; i < m_nodes.size(); ++i)
        replace[i] = static_cast<int>(i);
    std::vector<bool> removed(m_nodes.size(), false);
    for (std::size_t i = 0; i < m_nodes.size(); ++i)
    {
        const auto* bn = dynamic_cast<const BatchNormalization*>(m_nodes[i].layer.get());
        if (!bn || m_nodes[i].inputs.size() != 1)
            continue;
        Node& producer = m_nodes[m_nodes[i].inputs[0]];
        if (producer.uses != 1 || !producer.layer->fold_affine(bn->scale(), bn->shift()))
            continue;
        producer.layer->set_note(producer.layer->note() + "+" + bn->class_name() + " " +
                                 bn->name());
        replace[i] = m_nodes[i].inputs[0];
        removed[i] = true;
        producer.uses = m_nodes[i].uses; // it now feeds the BN's consumers
    }
    if (std::none_of(removed.begin(), removed.end(), [](bool r) { return r; }))
        return;
    std::vector<int> new_index(m_nodes.size(), -1);
    std::vector<Node> kept;
    for (std::size_t i = 0; i < m_nodes.size(); ++i)
    {
        if (removed[i])
            continue;
        Node node = std::move(m_nodes[i]);
        for (int& p : node.inputs)
            p = new_index[replace[p]];
        new_index[i] = static_cast<int>(kept.size());
        kept.push_back(std::move(node));
    }
    m_output = new_index[replace[m_output]];
    m_nodes = std::move(kept);
}

void Graph::compute_facts(const std::vector<Shape>& build_shapes)
{
    const auto* input = dynamic_cast<const InputLayer*>(m_nodes[m_input].layer.get());
    m_facts.in_channels = input->declared().c;
    m_facts.out_channels = build_shapes[m_output].c;
    m_facts.spatial = std::all_of(m_nodes.begin(), m_nodes.end(),
                                  [](const Node& n) { return n.layer->spatial(); });
    if (!m_facts.spatial)
    {
        m_facts.fixed_height = input->declared().h;
        m_facts.fixed_width = input->declared().w;
    }

    std::vector<int> down(m_nodes.size(), 1);
    std::vector<Field> fields(m_nodes.size());
    int total_stride = 1;
    for (std::size_t i = 0; i < m_nodes.size(); ++i)
    {
        std::vector<Field> in_fields;
        int in_down = 1;
        for (int p : m_nodes[i].inputs)
        {
            in_fields.push_back(fields[p]);
            in_down = std::max(in_down, down[p]);
        }
        for (int p : m_nodes[i].inputs)
            if (down[p] != in_down) // a merge of different strides (a U-Net skip)
                m_needs_stride_multiple = true;
        down[i] = in_down * m_nodes[i].layer->stride();
        total_stride = std::max(total_stride, down[i]);
        fields[i] =
            i == static_cast<std::size_t>(m_input) ? Field{} : m_nodes[i].layer->field(in_fields);
    }
    const Field& out = fields[m_output];
    const double radius = std::max({out.y.before, out.y.after, out.x.before, out.x.after});
    m_facts.total_stride = total_stride;
    m_facts.receptive_radius_px = static_cast<int>(std::ceil(radius - 1e-9));
    m_facts.halo_px =
        (m_facts.receptive_radius_px + total_stride - 1) / total_stride * total_stride;

    // The output activation: through pass-through layers to the last real one.
    int last = m_output;
    while (m_nodes[last].layer->is_identity() && !m_nodes[last].inputs.empty())
        last = m_nodes[last].inputs[0];
    m_facts.output_activation = m_nodes[last].layer->activation_name();

    // Exact tiling cuts crops at multiples of the total stride (tiles and halos are rounded to
    // it), so at a layer whose input is (in_h / probe) the model input's size the crops are
    // offset by multiples of total_stride * in_h / probe pixels (1 when that is not whole).
    if (m_facts.spatial)
    {
        const int probe = 64 * total_stride;
        std::vector<Shape> shapes;
        try
        {
            shapes = plan(Shape{1, probe, probe, m_facts.in_channels});
        }
        catch (const ModelError&) // no plan at this size: nothing is known about the offsets
        {
            shapes.assign(m_nodes.size(), Shape{});
        }
        const auto multiple = [&](int size)
        {
            const long long scaled = static_cast<long long>(total_stride) * size;
            return size > 0 && scaled % probe == 0 ? static_cast<int>(scaled / probe) : 1;
        };
        for (auto& node : m_nodes)
            if (!node.inputs.empty())
            {
                const Shape& in = shapes[node.inputs[0]];
                node.layer->place(multiple(in.h), multiple(in.w));
            }
    }
}

std::vector<Shape> Graph::plan(const Shape& input) const
{
    if (input.c != m_facts.in_channels)
        throw ModelError(m_where, "input with " + std::to_string(m_facts.in_channels) +
                                      " channel(s) expected, " + std::to_string(input.c) +
                                      " found");
    if (input.n < 1 || input.h < 1 || input.w < 1)
        throw ModelError(m_where, "input shape " + shape_string(input) + " is empty");
    if (!m_facts.spatial)
    {
        if (input.h != m_facts.fixed_height || input.w != m_facts.fixed_width)
            throw ModelError(m_where, "input of " + std::to_string(m_facts.fixed_height) + "x" +
                                          std::to_string(m_facts.fixed_width) +
                                          " pixels expected, " + std::to_string(input.h) + "x" +
                                          std::to_string(input.w) + " found");
    }
    else if (m_needs_stride_multiple &&
             (input.h % m_facts.total_stride != 0 || input.w % m_facts.total_stride != 0))
        throw ModelError(m_where, "input height and width must be multiples of the total stride " +
                                      std::to_string(m_facts.total_stride) + ", " +
                                      std::to_string(input.h) + "x" + std::to_string(input.w) +
                                      " found");
    std::vector<Shape> shapes(m_nodes.size());
    shapes[m_input] = input;
    for (std::size_t i = 0; i < m_nodes.size(); ++i)
    {
        if (static_cast<int>(i) == m_input)
            continue;
        std::vector<Shape> in_shapes;
        for (int p : m_nodes[i].inputs)
            in_shapes.push_back(shapes[p]);
        shapes[i] = m_nodes[i].layer->output_shape(in_shapes);
    }
    return shapes;
}

Tensor Graph::run(const Tensor& input, KernelKind kernels, std::vector<double>* layer_seconds,
                  std::string* first_non_finite_layer) const
{
    if (layer_seconds)
        layer_seconds->assign(m_nodes.size(), 0.0);
    if (first_non_finite_layer)
        first_non_finite_layer->clear();
    WorkspacePool::Lease lease = m_workspaces.acquire(*this, input.shape());
    Workspace& w = lease.workspace();
    const ActivationPlan& plan = *w.plan;

    // The layers read contiguous inputs unless they say otherwise: a strided caller's view is
    // copied first (the pipeline's tiles are contiguous).
    Tensor contiguous_input;
    const Tensor* in = &input;
    if (!input.contiguous())
    {
        contiguous_input = input;
        in = &contiguous_input;
    }
    Tensor output;
    if (plan.placements[m_output].storage == Storage::output)
        output = Tensor(plan.shapes[m_output]);
    for (std::size_t i = 0; i < m_nodes.size(); ++i)
    {
        const Placement& p = plan.placements[i];
        if (p.storage == Storage::input) // read only, though a view's data is not const
            w.views[i] = Tensor::view(plan.shapes[i], const_cast<float*>(in->data()) + p.offset,
                                      p.pixel_stride);
        else if (p.storage == Storage::output)
            w.views[i] = Tensor::view(plan.shapes[i], output.data() + p.offset, p.pixel_stride);
    }

    for (std::size_t i = 0; i < m_nodes.size(); ++i)
    {
        const Node& node = m_nodes[i];
        if (node.layer->is_identity())
            continue;
        const auto start = std::chrono::steady_clock::now();
        node.layer->forward(w.args[i], w.views[i], kernels);
        if (layer_seconds)
            (*layer_seconds)[i] =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (first_non_finite_layer && first_non_finite_layer->empty() &&
            first_non_finite(w.views[i]))
            *first_non_finite_layer = node.layer->name() + " (" + node.layer->class_name() + ")";
    }
    if (plan.placements[m_output].storage == Storage::input)
        return Tensor(w.views[m_output]); // the model passes its input through: a copy
    return output;
}

} // namespace atrous::infer
