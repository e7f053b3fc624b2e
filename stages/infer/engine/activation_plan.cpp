// SPDX-License-Identifier: Apache-2.0
// Purpose: the activation planner: values (pass-through layers share their input's), in-place
// Concatenate slices, block lifetimes, greedy best-fit placement and the live-bytes bound.

#include "activation_plan.hpp"

#include "graph.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

namespace atrous::infer
{
namespace
{

std::size_t aligned_bytes(const Shape& s)
{
    const std::size_t bytes = s.size() * sizeof(float);
    return (bytes + k_arena_alignment - 1) / k_arena_alignment * k_arena_alignment;
}

bool overlap(const ArenaBlock& a, const ArenaBlock& b)
{
    return a.first <= b.last && b.first <= a.last;
}

} // namespace

std::size_t place_blocks(std::vector<ArenaBlock>& blocks)
{
    std::vector<std::size_t> order(blocks.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b)
                     {
                         if (blocks[a].bytes != blocks[b].bytes)
                             return blocks[a].bytes > blocks[b].bytes;
                         return blocks[a].first < blocks[b].first;
                     });
    std::vector<std::size_t> placed;
    std::vector<const ArenaBlock*> conflicts;
    std::size_t arena = 0;
    for (std::size_t i : order)
    {
        ArenaBlock& block = blocks[i];
        conflicts.clear();
        for (std::size_t j : placed)
            if (overlap(block, blocks[j]))
                conflicts.push_back(&blocks[j]);
        std::sort(conflicts.begin(), conflicts.end(),
                  [](const ArenaBlock* a, const ArenaBlock* b) { return a->offset < b->offset; });
        // Best fit: the smallest gap between conflicting blocks that holds this one; else the
        // first free byte above them all.
        std::size_t best = std::numeric_limits<std::size_t>::max();
        std::size_t best_gap = std::numeric_limits<std::size_t>::max();
        std::size_t cursor = 0;
        for (const ArenaBlock* c : conflicts)
        {
            if (c->offset >= cursor + block.bytes && c->offset - cursor < best_gap)
            {
                best = cursor;
                best_gap = c->offset - cursor;
            }
            cursor = std::max(cursor, c->offset + c->bytes);
        }
        block.offset = best != std::numeric_limits<std::size_t>::max() ? best : cursor;
        arena = std::max(arena, block.offset + block.bytes);
        placed.push_back(i);
    }
    return arena;
}

std::size_t live_bytes_bound(const std::vector<ArenaBlock>& blocks)
{
    int last_step = -1;
    for (const ArenaBlock& b : blocks)
        last_step = std::max(last_step, b.last);
    std::size_t bound = 0;
    for (int step = 0; step <= last_step; ++step)
    {
        std::size_t live = 0;
        for (const ArenaBlock& b : blocks)
            if (b.first <= step && step <= b.last)
                live += b.bytes;
        bound = std::max(bound, live);
    }
    return bound;
}

ActivationPlan plan_activations(const Graph& graph, const Shape& input, const PlanOptions& options)
{
    const std::vector<Node>& nodes = graph.nodes();
    const int count = static_cast<int>(nodes.size());
    ActivationPlan plan;
    plan.input = input;
    plan.shapes = graph.plan(input);

    // 1. Values: a pass-through node's output is its input's value (the InputLayer is its own).
    std::vector<int> value(count);
    for (int i = 0; i < count; ++i)
        value[i] = nodes[i].layer->is_identity() && !nodes[i].inputs.empty()
                       ? value[nodes[i].inputs[0]]
                       : i;
    const int input_value = value[graph.input_node()];
    const int output_value = value[graph.output_node()];

    // 2. Readers of each value (computing nodes taking it as an input, once per edge) and the
    //    step of its last read; the output value lives to the end.
    std::vector<std::vector<int>> readers(count);
    std::vector<int> last_use(count, -1);
    for (int j = 0; j < count; ++j)
    {
        if (nodes[j].layer->is_identity())
            continue;
        for (int p : nodes[j].inputs)
        {
            readers[value[p]].push_back(j);
            last_use[value[p]] = std::max(last_use[value[p]], j);
        }
    }
    last_use[output_value] = count;

    // 3. In-place Concatenate inputs: the producer writes into the slice when it can, the
    //    value feeds this Concatenate once, and every other reader takes strided input.
    std::vector<int> parent(count, -1);
    std::vector<int> slice_channel(count, 0);
    for (int c = 0; c < count; ++c)
    {
        if (!nodes[c].layer->concatenates_channels())
            continue;
        int channel = 0;
        for (int p : nodes[c].inputs)
        {
            const int v = value[p];
            const int channels = plan.shapes[p].c;
            const auto& r = readers[v];
            const bool once_here = std::count(r.begin(), r.end(), c) == 1;
            const bool others_strided =
                std::all_of(r.begin(), r.end(),
                            [&](int j) { return j == c || nodes[j].layer->reads_strided_input(); });
            const bool in_place =
                options.concat_in_place && v != input_value && v != output_value && parent[v] < 0 &&
                nodes[v].layer->writes_strided_output() && once_here && others_strided;
            if (in_place)
            {
                parent[v] = c;
                slice_channel[v] = channel;
                ++plan.concat_inputs_in_place;
            }
            else
                ++plan.concat_inputs_copied;
            channel += channels;
        }
    }

    // 4. Roots (parents come later in the order, so resolve from the end) and blocks.
    std::vector<int> root(count);
    std::vector<int> channel_offset(count, 0);
    for (int v = count - 1; v >= 0; --v)
    {
        if (parent[v] < 0)
            root[v] = v;
        else
        {
            root[v] = root[parent[v]];
            channel_offset[v] = channel_offset[parent[v]] + slice_channel[v];
        }
    }
    std::vector<int> block_of(count, -1);
    for (int v = 0; v < count; ++v)
    {
        if (value[v] != v || root[v] == input_value || root[v] == output_value)
            continue;
        int& b = block_of[root[v]];
        if (b < 0)
        {
            b = static_cast<int>(plan.blocks.size());
            plan.blocks.push_back(
                ArenaBlock{root[v], aligned_bytes(plan.shapes[root[v]]), v, v, 0});
        }
        ArenaBlock& block = plan.blocks[b];
        block.first = std::min(block.first, v);
        block.last = std::max({block.last, last_use[v], v});
    }
    plan.arena_bytes = place_blocks(plan.blocks);
    plan.lower_bound_bytes = live_bytes_bound(plan.blocks);
    plan.input_bytes = input.size() * sizeof(float);
    plan.output_bytes = plan.shapes[graph.output_node()].size() * sizeof(float);

    // 5. Every node's placement.
    plan.placements.resize(count);
    for (int i = 0; i < count; ++i)
    {
        const int v = value[i];
        const int r = root[v];
        Placement& p = plan.placements[i];
        p.storage = r == input_value    ? Storage::input
                    : r == output_value ? Storage::output
                                        : Storage::arena;
        p.block = p.storage == Storage::arena ? block_of[r] : -1;
        p.offset = static_cast<std::size_t>(channel_offset[v]);
        p.pixel_stride = plan.shapes[r].c;
    }
    return plan;
}

} // namespace atrous::infer
