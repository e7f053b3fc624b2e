// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Concatenate along the channel axis (axis -1 or 3).
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/import/model_spec.hpp"

namespace atrous::infer
{

class Concatenate : public Layer
{
public:
    Concatenate(const LayerSpec& spec, const std::vector<Shape>& inputs);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override
    {
        return RowMap::rows();
    }
    bool writes_strided_output() const override { return true; }
    bool reads_strided_input() const override { return true; }
    bool concatenates_channels() const override { return true; }
};

/// Checks that all inputs share n, h and w (0 = unknown matches anything); throws naming `layer`.
void expect_same_grid(const Layer& layer, const std::vector<Shape>& inputs, bool channels_too);

} // namespace atrous::infer
