// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras UpSampling2D with interpolation 'nearest'.
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/import/model_spec.hpp"

namespace atrous::infer
{

class UpSampling2d : public Layer
{
public:
    UpSampling2d(const LayerSpec& spec, const std::vector<Shape>& inputs);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override;
    Field field(const std::vector<Field>& inputs) const override;

private:
    int m_fy = 2;
    int m_fx = 2;
};

} // namespace atrous::infer
