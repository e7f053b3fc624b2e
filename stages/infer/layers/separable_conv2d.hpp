// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras SeparableConv2D: depthwise (no bias) then pointwise 1x1 with bias, activation
// last.
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/engine/weight_set.hpp"
#include "stages/infer/kernels/dispatch.hpp"
#include "stages/infer/kernels/kernels.hpp"

namespace atrous::infer
{

class SeparableConv2d : public Layer
{
public:
    SeparableConv2d(const LayerSpec& spec, const std::vector<Shape>& inputs, WeightSet& weights);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override;
    void forward_rows(const std::vector<const Tensor*>& inputs, Tensor& output, KernelKind kernels,
                      int pad_top, int pad_left) const override;
    int stride() const override { return m_wy.stride; }
    Field field(const std::vector<Field>& inputs) const override;
    std::string activation_name() const override { return m_activation_name; }
    long long params() const override;
    double flops(const std::vector<Shape>& inputs, const Shape& output) const override;
    bool fold_affine(const std::vector<float>& scale, const std::vector<float>& shift) override;

private:
    Window1d m_wy;
    Window1d m_wx;
    int m_in_c = 0;
    int m_multiplier = 1;
    int m_out_c = 0;
    std::vector<float> m_depthwise; // (kh, kw, in_c, multiplier)
    std::vector<float> m_pointwise; // (in_c * multiplier, out_c)
    /// The fast path: the fastest separable_conv2d variant (dispatch.hpp; the SIMD ones fuse the
    /// depthwise and pointwise steps per band of rows).
    kernels::Conv2dShape kernel_shape(const Shape& in, const Shape& out) const;
    void pack();
    const kernels::SeparableVariant* m_fast = nullptr;
    kernels::PackedWeights m_packed; // m_pointwise in m_fast's layout
    std::vector<float> m_bias;
    kernels::Activation m_activation;
    std::string m_activation_name;
};

} // namespace atrous::infer
