// SPDX-License-Identifier: Apache-2.0
// Purpose: layers that pass their input through at inference: InputLayer (declares the input
// shape), Dropout and SpatialDropout2D.
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/import/model_spec.hpp"

namespace atrous::infer
{

/// Keras InputLayer: no inputs; its shape comes from `batch_input_shape` (Keras 2) or
/// `batch_shape` (Keras 3), e.g. [null, 256, 256, 1]; null height/width = any size (0 here).
class InputLayer : public Layer
{
public:
    explicit InputLayer(const LayerSpec& spec);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override
    {
        return RowMap::rows();
    }
    bool is_identity() const override { return true; }
    Field field(const std::vector<Field>& inputs) const override { return Field{}; }

    /// Declared shape; n is 0 (any batch), h/w 0 when not fixed.
    const Shape& declared() const { return m_shape; }

private:
    Shape m_shape;
};

/// Dropout, SpatialDropout2D (and other inference no-ops): output = input.
class Identity : public Layer
{
public:
    Identity(const LayerSpec& spec, const std::vector<Shape>& inputs);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override
    {
        return RowMap::rows();
    }
    bool is_identity() const override { return true; }
};

} // namespace atrous::infer
