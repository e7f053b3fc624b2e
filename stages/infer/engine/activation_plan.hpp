// SPDX-License-Identifier: Apache-2.0
// Purpose: where every activation of a forward pass lives for one input shape: one arena whose
// blocks are placed from the tensors' lifetimes (greedy by size, best fit), Concatenate inputs
// written in place into their channel slice, and the planned peak next to its lower bound.
#pragma once

#include "stages/infer/engine/tensor.hpp"

#include <cstddef>
#include <vector>

namespace atrous::infer
{

class Graph;

/// Arena blocks start on this boundary (a cache line; SIMD loads never split one).
constexpr std::size_t k_arena_alignment = 64;

/// One buffer of the arena: the output of node `root` and every value placed in its channel
/// slices, live from step `first` to step `last` (node indices in execution order, inclusive:
/// a node's inputs and its output are live together).
struct ArenaBlock
{
    int root = 0;
    std::size_t bytes = 0; // rounded up to k_arena_alignment
    int first = 0;
    int last = 0;
    std::size_t offset = 0; // bytes from the arena start, set by place_blocks()
};

/// Sets every block's offset so that blocks live at a common step never overlap: largest first,
/// each into the smallest gap between the conflicting blocks already placed that fits it (else
/// above them). Returns the arena size (the highest block end).
std::size_t place_blocks(std::vector<ArenaBlock>& blocks);

/// The most bytes live at one step: no placement of these blocks in this order needs less.
std::size_t live_bytes_bound(const std::vector<ArenaBlock>& blocks);

/// Where a node's output lives.
enum class Storage
{
    input,  // the caller's input tensor (the InputLayer and pass-through layers over it)
    output, // the tensor forward() returns
    arena   // a block of the activation arena
};

struct Placement
{
    Storage storage = Storage::arena;
    int block = -1;         // index into ActivationPlan::blocks (arena only)
    std::size_t offset = 0; // floats from the start of the storage (channel slice offset)
    int pixel_stride = 0;   // floats between pixels (the channels of the whole buffer)
};

struct PlanOptions
{
    /// Let producers that can (Layer::writes_strided_output) write their output into their
    /// Concatenate channel slice when every other reader takes strided input. Off: every
    /// Concatenate copies all its inputs (the comparison the benchmark reports).
    bool concat_in_place = true;
};

/// The memory plan of a graph for one input shape.
struct ActivationPlan
{
    Shape input;
    std::vector<Shape> shapes;         // every node's output shape (Graph::plan)
    std::vector<Placement> placements; // every node (pass-through nodes share their input's)
    std::vector<ArenaBlock> blocks;
    std::size_t arena_bytes = 0;       // planned arena size (place_blocks)
    std::size_t lower_bound_bytes = 0; // live_bytes_bound of the same blocks
    std::size_t input_bytes = 0;       // the caller's input, outside the arena
    std::size_t output_bytes = 0;      // the returned output, outside the arena
    int concat_inputs_in_place = 0;    // Concatenate inputs written in place by their producer
    int concat_inputs_copied = 0;      // ... and copied by the Concatenate
};

/// Plans `graph` for `input`; throws ModelError as Graph::plan when the input is not accepted.
ActivationPlan plan_activations(const Graph& graph, const Shape& input,
                                const PlanOptions& options = {});

} // namespace atrous::infer
