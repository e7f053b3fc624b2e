// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Conv2D: config parsing, weight checks, shapes, and the kernel call.

#include "conv2d.hpp"

#include "stages/infer/engine/keras_config.hpp"
#include "stages/infer/layers/window_shape.hpp"

#include <tuple>

namespace atrous::infer
{

Conv2d::Conv2d(const LayerSpec& spec, const std::vector<Shape>& inputs, WeightSet& weights)
    : Layer(spec.name, spec.class_name)
{
    expect_inputs(inputs, 1);
    const KerasConfig config(spec.config, spec.name);
    config.require_channels_last();
    if (config.integer("groups", 1) != 1)
        config.fail("groups", "1");
    std::tie(m_wy, m_wx) = config.conv_windows();
    m_out_c = config.positive("filters", 0, "a positive count");
    const int kh = m_wy.k;
    const int kw = m_wx.k;
    m_in_c = inputs[0].c;
    m_activation = config.activation(m_activation_name);

    m_kernel =
        weights.take("kernel", {kh, kw, m_in_c, m_out_c}, WeightInit::he_uniform, kh * kw * m_in_c);
    if (config.boolean("use_bias", true))
        m_bias = weights.take("bias", {m_out_c}, WeightInit::zeros);
    weights.expect_all_used();
    output_shape(inputs);
    const kernels::Conv2dShape packing = kernel_shape(Shape{}, Shape{});
    const BuildOptions& build = weights.options();
    // bf16 leaves the narrow last convolutions (a few outputs; cheap, and the mask's threshold
    // reads them) in fp32, and the Winograd shapes where asked to.
    m_bf16 =
        build.precision == Precision::bf16 && !kernels::narrow_applies(packing) &&
        !(build.bf16_winograd == Bf16Winograd::fp32_winograd && kernels::winograd_applies(packing));
    m_bf16_wino = m_bf16 && build.bf16_winograd == Bf16Winograd::bf16_winograd &&
                  kernels::bf16_winograd_applies(packing);
    pack();
}

void Conv2d::place(int multiple_y, int multiple_x)
{
    if (m_bf16_wino &&
        (multiple_y % (2 * m_wy.dilation) != 0 || multiple_x % (2 * m_wx.dilation) != 0))
    {
        m_bf16_wino = false;
        pack();
    }
}

kernels::Conv2dShape Conv2d::kernel_shape(const Shape& in, const Shape& out) const
{
    return kernels::Conv2dShape{in.n,
                                in.h,
                                in.w,
                                m_in_c,
                                out.h,
                                out.w,
                                m_out_c,
                                m_wy.k,
                                m_wx.k,
                                m_wy.stride,
                                m_wx.stride,
                                m_wy.dilation,
                                m_wx.dilation,
                                m_wy.pad_before(in.h),
                                m_wx.pad_before(in.w)};
}

void Conv2d::pack()
{
    m_fast = m_bf16_wino ? &kernels::conv2d_bf16_wino_fast()
             : m_bf16    ? &kernels::conv2d_bf16_fast()
                         : &kernels::conv2d_fast();
    set_note(m_bf16_wino ? " bf16 wino" : m_bf16 ? " bf16" : "");
    const kernels::Conv2dShape s = kernel_shape(Shape{}, Shape{});
    m_packed = m_fast->pack(s, m_kernel.data());
    if (m_bf16)
        m_ref_bf16 = m_bf16_wino ? kernels::conv2d_bf16_wino_ref_pack(s, m_kernel.data())
                                 : kernels::conv2d_bf16_ref_pack(s, m_kernel.data());
}

Shape Conv2d::output_shape(const std::vector<Shape>& inputs) const
{
    expect_inputs(inputs, 1);
    expect_channels(inputs[0], m_in_c);
    return window_output(inputs[0], m_wy, m_wx, m_out_c);
}

void Conv2d::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                     KernelKind kernels) const
{
    forward_rows(inputs, output, kernels, m_wy.pad_before(inputs[0]->shape().h),
                 m_wx.pad_before(inputs[0]->shape().w));
}

void Conv2d::forward_rows(const std::vector<const Tensor*>& inputs, Tensor& output,
                          KernelKind kernels, int pad_top, int pad_left) const
{
    kernels::Conv2dShape s =
        with_pixel_strides(kernel_shape(inputs[0]->shape(), output.shape()), *inputs[0], output);
    s.pad_top = pad_top;
    s.pad_left = pad_left;
    const float* bias = m_bias.empty() ? nullptr : m_bias.data();
    if (kernels == KernelKind::reference && m_bf16)
        (m_bf16_wino ? kernels::conv2d_bf16_wino_ref : kernels::conv2d_bf16_ref)(
            s, inputs[0]->data(), m_ref_bf16.data(), bias, m_activation, output.data());
    else if (kernels == KernelKind::reference)
        kernels::conv2d_ref(s, inputs[0]->data(), m_kernel.data(), bias, m_activation,
                            output.data());
    else
        m_fast->run(s, inputs[0]->data(), m_packed.data(), bias, m_activation, output.data());
}

RowMap Conv2d::axis_map(const std::vector<Shape>& inputs, Axis axis) const
{
    const Window1d& w = axis == Axis::y ? m_wy : m_wx;
    RowMap m = window_axis_map(m_wy, m_wx, inputs.at(0), axis);
    if (m_bf16_wino) // F(2x2, 3x3) and F(2x2, 2x2) output tiles
        m.granule = 2 * w.dilation;
    else if (kernels::winograd_applies(kernel_shape(Shape{}, Shape{})))
        // F(4x4, 3x3) and F(3x3, 2x2) output tiles; dilated, a tile's rows lie `dilation` apart.
        m.granule = (w.k == 3 ? 4 : 3) * w.dilation;
    return m;
}

Field Conv2d::field(const std::vector<Field>& inputs) const
{
    Field f = inputs.at(0);
    f.y = extend_by_window(f.y, m_wy.k_eff(), m_wy.pad_before(0), m_wy.stride);
    f.x = extend_by_window(f.x, m_wx.k_eff(), m_wx.pad_before(0), m_wx.stride);
    return f;
}

long long Conv2d::params() const
{
    return static_cast<long long>(m_kernel.size() + m_bias.size());
}

double Conv2d::flops(const std::vector<Shape>& inputs, const Shape& output) const
{
    return 2.0 * output.size() * m_wy.k * m_wx.k * m_in_c;
}

bool Conv2d::fold_affine(const std::vector<float>& scale, const std::vector<float>& shift)
{
    if (!fold_affine_into_output_channels(m_activation, m_kernel, m_bias, scale, shift))
        return false;
    pack();
    return true;
}

} // namespace atrous::infer
