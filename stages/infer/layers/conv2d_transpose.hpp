// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Conv2DTranspose (strides, same/valid as TensorFlow's conv2d_transpose, bias,
// activation). Keras stores the kernel (kh, kw, out, in); it is repacked to (kh, kw, in, out).
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/engine/weight_set.hpp"
#include "stages/infer/kernels/kernels.hpp"

namespace atrous::infer
{

class Conv2dTranspose : public Layer
{
public:
    Conv2dTranspose(const LayerSpec& spec, const std::vector<Shape>& inputs, WeightSet& weights);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override;
    void forward_rows(const std::vector<const Tensor*>& inputs, Tensor& output, KernelKind kernels,
                      int pad_top, int pad_left) const override;
    /// The kernels honour Conv2dShape's pixel strides (reference and fast alike).
    bool writes_strided_output() const override { return true; }
    bool reads_strided_input() const override { return true; }
    Field field(const std::vector<Field>& inputs) const override;
    std::string activation_name() const override { return m_activation_name; }
    long long params() const override;
    double flops(const std::vector<Shape>& inputs, const Shape& output) const override;
    bool fold_affine(const std::vector<float>& scale, const std::vector<float>& shift) override;

    /// One axis: output length for input length `in` (Keras deconv_output_length) and the
    /// number of leading output positions TensorFlow drops (its 'same' padding before).
    struct Axis1d
    {
        int k = 1;
        int stride = 1;
        int dilation = 1;
        bool same = false;
        int k_eff() const { return (k - 1) * dilation + 1; }
        int out(int in) const;
        int pad_before(int in) const;
    };

private:
    Axis1d m_ay;
    Axis1d m_ax;
    int m_in_c = 0;
    int m_out_c = 0;
    std::vector<float> m_kernel; // (kh, kw, in, out) after repacking
    std::vector<float> m_bias;
    kernels::Activation m_activation;
    std::string m_activation_name;
};

} // namespace atrous::infer
