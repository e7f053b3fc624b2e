// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Conv2DTranspose. Output length (keras/utils/conv_utils.py deconv_output_length,
// output_padding=None): same -> in*stride; valid -> in*stride + max(k_eff - stride, 0).
// TensorFlow computes it as the input-gradient of a conv2d from that output length, so the
// leading padding is the conv2d 'same' padding: max((in-1)*stride + k_eff - out, 0) / 2.

#include "conv2d_transpose.hpp"

#include "stages/infer/engine/keras_config.hpp"
#include "stages/infer/layers/window_shape.hpp"

#include <algorithm>
#include <tuple>

namespace atrous::infer
{

int Conv2dTranspose::Axis1d::out(int in) const
{
    if (in == 0)
        return 0;
    return same ? in * stride : in * stride + std::max(k_eff() - stride, 0);
}

int Conv2dTranspose::Axis1d::pad_before(int in) const
{
    if (!same)
        return 0;
    if (in == 0)
        in = 1024;
    return std::max((in - 1) * stride + k_eff() - out(in), 0) / 2;
}

Conv2dTranspose::Conv2dTranspose(const LayerSpec& spec, const std::vector<Shape>& inputs,
                                 WeightSet& weights)
    : Layer(spec.name, spec.class_name)
{
    expect_inputs(inputs, 1);
    const KerasConfig config(spec.config, spec.name);
    config.require_channels_last();
    if (config.has("output_padding"))
        config.fail("output_padding", "null");
    const auto [wy, wx] = config.conv_windows();
    m_out_c = config.positive("filters", 0, "a positive count");
    m_ay = Axis1d{wy.k, wy.stride, wy.dilation, wy.same};
    m_ax = Axis1d{wx.k, wx.stride, wx.dilation, wx.same};
    const int kh = wy.k;
    const int kw = wx.k;
    m_in_c = inputs[0].c;
    m_activation = config.activation(m_activation_name);

    const std::vector<float> keras =
        weights.take("kernel", {kh, kw, m_out_c, m_in_c}, WeightInit::he_uniform, kh * kw * m_in_c);
    m_kernel.resize(keras.size());
    for (int tap = 0; tap < kh * kw; ++tap)
        for (int co = 0; co < m_out_c; ++co)
            for (int ci = 0; ci < m_in_c; ++ci)
                m_kernel[(static_cast<std::size_t>(tap) * m_in_c + ci) * m_out_c + co] =
                    keras[(static_cast<std::size_t>(tap) * m_out_c + co) * m_in_c + ci];
    if (config.boolean("use_bias", true))
        m_bias = weights.take("bias", {m_out_c}, WeightInit::zeros);
    weights.expect_all_used();
    output_shape(inputs);
}

Shape Conv2dTranspose::output_shape(const std::vector<Shape>& inputs) const
{
    expect_inputs(inputs, 1);
    expect_channels(inputs[0], m_in_c);
    const Shape& in = inputs[0];
    return Shape{in.n, m_ay.out(in.h), m_ax.out(in.w), m_out_c};
}

void Conv2dTranspose::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                              KernelKind kernels) const
{
    forward_rows(inputs, output, kernels, m_ay.pad_before(inputs[0]->shape().h),
                 m_ax.pad_before(inputs[0]->shape().w));
}

void Conv2dTranspose::forward_rows(const std::vector<const Tensor*>& inputs, Tensor& output,
                                   KernelKind kernels, int pad_top, int pad_left) const
{
    const Shape& in = inputs[0]->shape();
    const Shape& out = output.shape();
    kernels::Conv2dShape s =
        with_pixel_strides(window_shape(in, out, m_ay, m_ax), *inputs[0], output);
    s.pad_top = pad_top;
    s.pad_left = pad_left;
    const float* bias = m_bias.empty() ? nullptr : m_bias.data();
    if (kernels == KernelKind::reference)
        kernels::conv2d_transpose_ref(s, inputs[0]->data(), m_kernel.data(), bias, m_activation,
                                      output.data());
    else
        kernels::conv2d_transpose_tbb(s, inputs[0]->data(), m_kernel.data(), bias, m_activation,
                                      output.data());
}

RowMap Conv2dTranspose::axis_map(const std::vector<Shape>& inputs, Axis axis) const
{
    const Axis1d& a = axis == Axis::y ? m_ay : m_ax;
    RowMap m = RowMap::of(RowMap::Kind::transpose);
    m.k_eff = a.k_eff();
    m.stride = a.stride;
    m.pad_before = a.pad_before(axis == Axis::y ? inputs.at(0).h : inputs.at(0).w);
    return m;
}

Field Conv2dTranspose::field(const std::vector<Field>& inputs) const
{
    // Output pixel o reads inputs i with i*stride + t - pad = o for taps t < k_eff: i spans
    // (o + pad - k_eff + 1)/stride .. (o + pad)/stride. Conservative bound in new-scale units,
    // plus (stride - 1) for the position inside the upsampled block.
    const auto up = [](AxisField a, const Axis1d& axis)
    {
        const int pad = axis.pad_before(0);
        a.scale /= axis.stride;
        a.before += a.scale * (axis.k_eff() - 1 - pad + axis.stride - 1);
        a.after += a.scale * (pad + axis.stride - 1);
        return a;
    };
    Field f = inputs.at(0);
    f.y = up(f.y, m_ay);
    f.x = up(f.x, m_ax);
    return f;
}

long long Conv2dTranspose::params() const
{
    return static_cast<long long>(m_kernel.size() + m_bias.size());
}

double Conv2dTranspose::flops(const std::vector<Shape>& inputs, const Shape& output) const
{
    return 2.0 * inputs.at(0).size() * m_ay.k * m_ax.k * m_out_c;
}

bool Conv2dTranspose::fold_affine(const std::vector<float>& scale, const std::vector<float>& shift)
{
    return fold_affine_into_output_channels(m_activation, m_kernel, m_bias, scale, shift);
}

} // namespace atrous::infer
