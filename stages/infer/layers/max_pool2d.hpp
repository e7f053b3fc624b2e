// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras MaxPooling2D (pool_size, strides defaulting to pool_size, valid/same padding).
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/import/model_spec.hpp"

namespace atrous::infer
{

class MaxPool2d : public Layer
{
public:
    MaxPool2d(const LayerSpec& spec, const std::vector<Shape>& inputs);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override;
    void forward_rows(const std::vector<const Tensor*>& inputs, Tensor& output, KernelKind kernels,
                      int pad_top, int pad_left) const override;
    /// The kernels honour Conv2dShape's pixel strides (reference and fast alike).
    bool writes_strided_output() const override { return true; }
    bool reads_strided_input() const override { return true; }
    int stride() const override { return m_wy.stride; }
    Field field(const std::vector<Field>& inputs) const override;

private:
    Window1d m_wy;
    Window1d m_wx;
};

} // namespace atrous::infer
