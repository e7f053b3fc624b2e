// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Add: elementwise sum of two or more same-shaped inputs.
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/import/model_spec.hpp"

namespace atrous::infer
{

class Add : public Layer
{
public:
    Add(const LayerSpec& spec, const std::vector<Shape>& inputs);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override
    {
        return RowMap::rows();
    }
};

} // namespace atrous::infer
