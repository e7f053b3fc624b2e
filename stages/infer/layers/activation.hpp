// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Activation, ReLU (max_value, negative_slope, threshold) and Softmax layers.
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/import/model_spec.hpp"
#include "stages/infer/kernels/kernels.hpp"

namespace atrous::infer
{

class ActivationLayer : public Layer
{
public:
    ActivationLayer(const LayerSpec& spec, const std::vector<Shape>& inputs);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override
    {
        return RowMap::rows();
    }
    std::string activation_name() const override { return m_activation_name; }

private:
    kernels::Activation m_activation;
    std::string m_activation_name;
};

} // namespace atrous::infer
