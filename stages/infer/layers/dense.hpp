// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Dense over the last axis (kernel (in, units), bias, activation).
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/engine/weight_set.hpp"
#include "stages/infer/kernels/kernels.hpp"

namespace atrous::infer
{

class Dense : public Layer
{
public:
    Dense(const LayerSpec& spec, const std::vector<Shape>& inputs, WeightSet& weights);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override
    {
        return spatial() ? RowMap::rows()
                         : RowMap::blocked("a classifier layer: its output is not a map of rows");
    }
    /// A Dense on a vector (1x1 map) is a classifier head; on a map it acts per pixel.
    bool spatial() const override { return !m_on_vector; }
    std::string activation_name() const override { return m_activation_name; }
    long long params() const override;
    double flops(const std::vector<Shape>& inputs, const Shape& output) const override;
    bool fold_affine(const std::vector<float>& scale, const std::vector<float>& shift) override;

private:
    int m_in_c = 0;
    int m_units = 0;
    bool m_on_vector = false;
    std::vector<float> m_kernel; // (in, units)
    std::vector<float> m_bias;
    kernels::Activation m_activation;
    std::string m_activation_name;
};

} // namespace atrous::infer
