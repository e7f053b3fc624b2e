// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras BatchNormalization at inference: a per-channel affine map; the graph folds it
// into the preceding convolution or Dense when it can.
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/engine/weight_set.hpp"

namespace atrous::infer
{

class BatchNormalization : public Layer
{
public:
    BatchNormalization(const LayerSpec& spec, const std::vector<Shape>& inputs, WeightSet& weights);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override
    {
        return RowMap::rows();
    }
    long long params() const override { return m_params; }

    /// y = x * scale + shift with scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
    const std::vector<float>& scale() const { return m_scale; }
    const std::vector<float>& shift() const { return m_shift; }

private:
    int m_channels = 0;
    long long m_params = 0;
    std::vector<float> m_scale;
    std::vector<float> m_shift;
};

} // namespace atrous::infer
