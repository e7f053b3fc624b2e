// SPDX-License-Identifier: Apache-2.0
// Purpose: the runnable model: a graph of layers built once from a ModelSpec, run on any input
// size it accepts. This is the one API the rest of atrous uses from the engine.
#pragma once

#include "stages/infer/engine/tensor.hpp"
#include "stages/infer/import/model_spec.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace atrous::infer
{

class Graph; // engine/graph.hpp: the layers and their wiring

/// Which kernel family runs the layers. `reference` is the plain single-threaded oracle used by
/// the tests; `fast` is the best available (parallel, later SIMD) and must agree with it.
enum class KernelKind
{
    reference,
    fast
};

struct ForwardOptions
{
    KernelKind kernels = KernelKind::fast;
    /// Benchmarks only: when set, receives each layer's wall time in seconds, one entry per
    /// describe() row (0 for the input and pass-through layers). Off (nullptr) by default.
    std::vector<double>* layer_seconds = nullptr;
    /// Diagnostics only (a tile whose output is not finite, under --debug): when set, every
    /// layer's output is scanned and the first one holding NaN/Inf is named here ("conv2d_5
    /// (Conv2D)"), empty when none. Off (nullptr) by default.
    std::string* first_non_finite_layer = nullptr;
};

/// Arithmetic of the convolutions (config key runtime.precision).
enum class Precision
{
    fp32, // the exactness reference
    bf16  // Conv2D weights (rounded once at load) and inputs in bf16, fp32 sums (kernels.hpp)
};

/// How the 3x3 / 2x2 stride-1 convolutions (the Winograd shapes) run in bf16 mode.
enum class Bf16Winograd
{
    bf16_winograd, // bf16 Winograd F(2x2, 3x3) / F(2x2, 2x2) (kernels.hpp bf16_winograd_applies)
                   // where crops keep its tile grid (Layer::place), else the bf16 GEMM
    bf16_gemm,     // the bf16 GEMM (im2col) like every other Conv2D
    fp32_winograd  // keep them in fp32 Winograd (bench/README.md compares the three)
};

struct BuildOptions
{
    /// A weighted layer without weights is a ModelError unless this is set; then it gets
    /// deterministic He-uniform weights from `seed` (benchmarks, `atrous info` without a file, the
    /// clearly labelled placeholder demo model).
    bool initialize_missing_weights = false;
    unsigned seed = 0;
    /// Producers of Concatenate inputs write straight into their channel slice when they can
    /// (no copy; the slice's buffer lives from the first of them, which can raise the peak).
    /// Off: every Concatenate copies its inputs (ActivationMemory reports both figures).
    bool concat_in_place = true;
    /// bf16: every Conv2D with more than k_narrow_max_out_channels outputs runs a conv2d_bf16
    /// kernel (dispatch.hpp conv2d_bf16_fast(); KernelKind::reference: conv2d_bf16_ref); the
    /// rest of the graph (bias, activations, the final sigmoid/softmax, pooling, Dense, depthwise
    /// and separable layers, the narrow last convolution) stays fp32, as do the tensors between
    /// layers.
    Precision precision = Precision::fp32;
    Bf16Winograd bf16_winograd = Bf16Winograd::bf16_winograd;
};

/// Static facts the pipeline plans tiles with.
struct ModelFacts
{
    int in_channels = 0;
    int out_channels = 0; // classes (1 for a sigmoid mask)
    bool spatial = true;  // true: output is a map (U-Net); false: one vector per input (classifier)
    int total_stride = 1; // input sizes must be multiples of this (product of poolings)
    int fixed_height = 0; // > 0 when the model only accepts this input size (Dense/Flatten)
    int fixed_width = 0;
    int receptive_radius_px = 0;   // how far (input pixels) an output pixel sees, worst side
    int halo_px = 0;               // receptive radius rounded up to total_stride: exact-tiling halo
    std::string output_activation; // "sigmoid", "softmax", "linear", "relu"
};

/// One row of `atrous info`.
struct LayerInfo
{
    std::string name;
    std::string class_name;
    Shape output;
    long long params = 0;
    double flops = 0; // multiply-add = 2 FLOP
};

/// Activation memory of one forward pass for an input shape, as the engine plans it
/// (engine/activation_plan.hpp). Bytes; the arena holds every intermediate tensor, the input and
/// the returned output lie outside it.
struct ActivationMemory
{
    std::size_t arena_bytes = 0;       // the planned arena (blocks placed by lifetime)
    std::size_t lower_bound_bytes = 0; // most bytes live at one step of this layer order
    std::size_t input_bytes = 0;
    std::size_t output_bytes = 0;
    int concat_inputs_in_place = 0; // Concatenate inputs their producer writes into the slice
    int concat_inputs_copied = 0;   // ... and those the Concatenate copies
    /// The same two figures were every Concatenate to copy all its inputs (for comparison;
    /// the figures above when BuildOptions::concat_in_place is off).
    std::size_t copying_arena_bytes = 0;
    std::size_t copying_lower_bound_bytes = 0;
};

/// Counters of the activation arenas forward() reuses (one per concurrent call, kept by the
/// model; a plan per input shape). In the steady state only `forwards` grows.
struct WorkspaceStats
{
    long long forwards = 0;          // forward() calls
    long long arena_allocations = 0; // arena buffers allocated or grown
    long long plans = 0;             // activation plans made (one per new input shape)
    std::size_t bytes_held = 0;      // arena bytes held now
    int workspaces = 0;              // arenas held (the most concurrent calls seen)
};

/// Immutable after construction; forward() is const and safe to call from several threads at once
/// (each call leases its own activation arena from the model's pool, reused by later calls;
/// parallel kernels share the caller's TBB arena, so running tiles concurrently does not
/// oversubscribe).
class Model
{
public:
    /// Builds and validates: unsupported class -> ModelError listing it; weight shape mismatch ->
    /// ModelError "layer <name>: <weight> shape (a,b,c,d) expected, (e,f,g,h) found"; folds
    /// BatchNormalization into the preceding convolution.
    explicit Model(const ModelSpec& spec, const BuildOptions& options = {});
    ~Model();
    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;

    const ModelFacts& facts() const;
    const std::string& name() const;

    /// Output shape for an input of `input` (n,h,w,in_channels); throws ModelError when the size
    /// is not accepted (not a multiple of total_stride, or not the fixed size).
    Shape output_shape(Shape input) const;

    /// Per-layer table for an input shape, in execution order.
    std::vector<LayerInfo> describe(Shape input) const;
    long long params() const;
    double flops(Shape input) const;

    /// Runs the network. Input NHWC with c == in_channels; output NHWC (classifier: n x 1 x 1 x C).
    Tensor forward(const Tensor& input, const ForwardOptions& options = {}) const;

    /// The activation memory forward() plans for an input of `input` (throws as output_shape).
    ActivationMemory activation_memory(Shape input) const;
    /// Thread-safe snapshot of the arena counters.
    WorkspaceStats workspace_stats() const;

    /// The layer graph (engine internals: the streaming executor plans over it).
    const Graph& graph() const { return *m_graph; }

private:
    std::unique_ptr<Graph> m_graph;
};

} // namespace atrous::infer
