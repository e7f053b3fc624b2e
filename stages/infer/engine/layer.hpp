// SPDX-License-Identifier: Apache-2.0
// Purpose: the runnable layer interface: Keras semantics (shapes, weights, receptive field) on one
// side, calls into the kernels on the other. Layers are built by layers/layer_factory.cpp.
#pragma once

#include "stages/error.hpp"
#include "stages/infer/engine/model.hpp"
#include "stages/infer/engine/row_map.hpp"
#include "stages/infer/engine/tensor.hpp"
#include "stages/infer/engine/window.hpp"
#include "stages/infer/kernels/kernels.hpp"

#include <string>
#include <vector>

namespace atrous::infer
{

/// How far one output pixel of a node reaches into the model input, along one axis:
/// `scale` input pixels per pixel of this node, `before`/`after` radius in input pixels.
struct AxisField
{
    double scale = 1.0;
    double before = 0.0;
    double after = 0.0;
};

struct Field
{
    AxisField y;
    AxisField x;
};

/// Extends `f` by a window of `taps` effective taps (k_eff = (k-1)*d+1) with `pad_before` of
/// them before the centre pixel, then downsamples by `stride` (conv, pooling).
AxisField extend_by_window(AxisField f, int k_eff, int pad_before, int stride);

/// A layer of the engine. Built once (weights validated and packed), then immutable: forward()
/// is const and may run concurrently from several threads.
class Layer
{
public:
    Layer(std::string name, std::string class_name)
        : m_name(std::move(name)), m_class_name(std::move(class_name))
    {
    }
    virtual ~Layer() = default;
    Layer(const Layer&) = delete;
    Layer& operator=(const Layer&) = delete;

    const std::string& name() const { return m_name; }
    const std::string& class_name() const { return m_class_name; }

    /// Output shape for these input shapes. A 0 dimension means "not known yet" (the build-time
    /// pass, where only channels and any fixed input size are known) and propagates.
    /// Throws ModelError naming the layer on shapes it cannot take.
    virtual Shape output_shape(const std::vector<Shape>& inputs) const = 0;

    /// Computes `output` (already sized to output_shape) from `inputs`. The engine passes views
    /// into its activation arena (Tensor::view); they are contiguous unless the layer opts in
    /// below. `output` holds garbage on entry (the arena is reused, not cleared).
    virtual void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                         KernelKind kernels) const = 0;

    /// Streaming (engine/stream_plan.hpp): how output rows (Axis::y) or columns (Axis::x) depend
    /// on input rows (columns) for these full-size input shapes. Default: not streamable (layers
    /// that can stream say how).
    virtual RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const
    {
        return RowMap::blocked("no row mapping for " + m_class_name);
    }
    /// Computes a region of output rows and columns (a band of a strip). `inputs` start at the
    /// first input row the band reads; `pad_top` and `pad_left` replace the window's leading
    /// padding along y and x: positive where the region touches the image's top or left border,
    /// negative where an input holds columns (rows) before the first one the region reads (they
    /// are skipped; a window layer's input may also hold columns after the last one it reads).
    /// Rowwise and upsampling layers (whose inputs the stream cuts to the region) ignore them.
    virtual void forward_rows(const std::vector<const Tensor*>& inputs, Tensor& output,
                              KernelKind kernels, int pad_top, int pad_left) const
    {
        forward(inputs, output, kernels);
    }

    /// True when forward() accepts an `output` whose pixel_stride() exceeds its channels and
    /// then writes exactly its channels of each pixel, nothing between: the engine may place the
    /// output directly in its channel slice of a Concatenate (in both kernel kinds).
    virtual bool writes_strided_output() const { return false; }
    /// True when forward() accepts inputs whose pixel_stride() exceeds their channels (a value
    /// placed in a Concatenate's slice may then also feed this layer without a copy).
    virtual bool reads_strided_input() const { return false; }
    /// True for a channel concatenation (Concatenate): the engine lets its inputs' producers
    /// write in place into its output, and forward() then copies only the other inputs.
    virtual bool concatenates_channels() const { return false; }

    /// Layers whose output is their (single) input: the engine aliases instead of copying.
    virtual bool is_identity() const { return false; }
    /// False for layers that make the model a classifier (Flatten, Dense).
    virtual bool spatial() const { return true; }
    /// Downsampling factor of this layer along y and x (pooling/conv strides), 1 otherwise.
    virtual int stride() const { return 1; }
    /// Called once the graph knows its strides (spatial models): crops of the model input (exact
    /// tiling) reach this layer's input offset by multiples of `multiple_y` rows and `multiple_x`
    /// columns from the whole image's. A layer whose result depends on a pixel's position modulo
    /// something (Winograd tiles) falls back to a position-independent method where the
    /// multiples are not multiples of it, so that crops still equal the whole image.
    virtual void place(int /*multiple_y*/, int /*multiple_x*/) {}
    /// Receptive field of this node's pixels from those of its inputs (default: merge = max).
    virtual Field field(const std::vector<Field>& inputs) const;
    /// Name of the activation applied last ("linear" if none).
    virtual std::string activation_name() const { return "linear"; }

    virtual long long params() const { return 0; }
    /// FLOPs (multiply-add = 2) for these shapes; bias, activations and pooling not counted.
    virtual double flops(const std::vector<Shape>& inputs, const Shape& output) const { return 0; }

    /// Folds a following per-channel affine y = x*scale + shift (a BatchNormalization) into this
    /// layer when it can (linear activation); returns false when it cannot.
    virtual bool fold_affine(const std::vector<float>& scale, const std::vector<float>& shift)
    {
        return false;
    }

    /// Extra text for `atrous info` (e.g. "+ batch_normalization_3 folded").
    const std::string& note() const { return m_note; }
    void set_note(std::string note) { m_note = std::move(note); }

protected:
    /// A ModelError "layer <name>: <what>".
    ModelError error(const std::string& what) const { return ModelError("layer " + m_name, what); }
    /// Throws unless there are exactly `count` inputs.
    void expect_inputs(const std::vector<Shape>& inputs, std::size_t count) const;
    /// Throws unless `in.c` is `channels`.
    void expect_channels(const Shape& in, int channels) const;
    /// Output shape of a window op (unknown dims stay 0); throws when the input is too small.
    Shape window_output(const Shape& in, const Window1d& wy, const Window1d& wx, int out_c) const;
    /// The fold_affine of a layer whose weights have the output channel as their fastest axis:
    /// y = (x*W + b) * scale + shift scales each channel's weights and bias (a missing bias
    /// becomes zeros). Returns false, changing nothing, unless `activation` is linear.
    static bool fold_affine_into_output_channels(const kernels::Activation& activation,
                                                 std::vector<float>& weights,
                                                 std::vector<float>& bias,
                                                 const std::vector<float>& scale,
                                                 const std::vector<float>& shift);

private:
    std::string m_name;
    std::string m_class_name;
    std::string m_note;
};

} // namespace atrous::infer
