// SPDX-License-Identifier: Apache-2.0
// Purpose: shared parts of the layer interface: receptive-field merging and input checks.

#include "layer.hpp"

#include <algorithm>

namespace atrous::infer
{

AxisField extend_by_window(AxisField f, int k_eff, int pad_before, int stride)
{
    f.before += pad_before * f.scale;
    f.after += std::max(0, k_eff - 1 - pad_before) * f.scale;
    f.scale *= stride;
    return f;
}

Field Layer::field(const std::vector<Field>& inputs) const
{
    Field out;
    bool first = true;
    for (const Field& in : inputs)
    {
        if (first)
        {
            out = in;
            first = false;
            continue;
        }
        out.y.scale = std::max(out.y.scale, in.y.scale);
        out.y.before = std::max(out.y.before, in.y.before);
        out.y.after = std::max(out.y.after, in.y.after);
        out.x.scale = std::max(out.x.scale, in.x.scale);
        out.x.before = std::max(out.x.before, in.x.before);
        out.x.after = std::max(out.x.after, in.x.after);
    }
    return out;
}

void Layer::expect_inputs(const std::vector<Shape>& inputs, std::size_t count) const
{
    if (inputs.size() != count)
        throw error(std::to_string(count) + " input(s) expected, " + std::to_string(inputs.size()) +
                    " found");
}

void Layer::expect_channels(const Shape& in, int channels) const
{
    if (in.c != channels)
        throw error("input with " + std::to_string(channels) + " channels expected, " +
                    std::to_string(in.c) + " found");
}

Shape Layer::window_output(const Shape& in, const Window1d& wy, const Window1d& wx, int out_c) const
{
    const int h = wy.out(in.h);
    const int w = wx.out(in.w);
    if (h < 0 || w < 0)
        throw error("input " + std::to_string(in.h) + "x" + std::to_string(in.w) +
                    " smaller than the window " + std::to_string(wy.k_eff()) + "x" +
                    std::to_string(wx.k_eff()) + " (padding valid)");
    return Shape{in.n, h, w, out_c};
}

bool Layer::fold_affine_into_output_channels(const kernels::Activation& activation,
                                             std::vector<float>& weights, std::vector<float>& bias,
                                             const std::vector<float>& scale,
                                             const std::vector<float>& shift)
{
    if (activation.kind != kernels::ActivationKind::linear)
        return false;
    const std::size_t channels = scale.size();
    for (std::size_t i = 0; i < weights.size(); ++i)
        weights[i] *= scale[i % channels];
    if (bias.empty())
        bias.assign(channels, 0.0f);
    for (std::size_t c = 0; c < channels; ++c)
        bias[c] = bias[c] * scale[c] + shift[c];
    return true;
}

} // namespace atrous::infer
