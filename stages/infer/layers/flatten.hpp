// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Flatten (channels_last order: NHWC memory order), makes a model a classifier.
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/import/model_spec.hpp"

namespace atrous::infer
{

class Flatten : public Layer
{
public:
    Flatten(const LayerSpec& spec, const std::vector<Shape>& inputs);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override
    {
        return RowMap::blocked("mixes all rows into one vector");
    }
    bool spatial() const override { return false; }
};

} // namespace atrous::infer
