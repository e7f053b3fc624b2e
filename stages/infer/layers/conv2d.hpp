// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Conv2D (any kernel size, strides, dilation, same/valid, bias, fused activation).
#pragma once

#include "stages/infer/engine/layer.hpp"
#include "stages/infer/engine/weight_set.hpp"
#include "stages/infer/kernels/dispatch.hpp"

namespace atrous::infer
{

class Conv2d : public Layer
{
public:
    Conv2d(const LayerSpec& spec, const std::vector<Shape>& inputs, WeightSet& weights);

    Shape output_shape(const std::vector<Shape>& inputs) const override;
    void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                 KernelKind kernels) const override;
    RowMap axis_map(const std::vector<Shape>& inputs, Axis axis) const override;
    void forward_rows(const std::vector<const Tensor*>& inputs, Tensor& output, KernelKind kernels,
                      int pad_top, int pad_left) const override;
    /// The kernels honour Conv2dShape's pixel strides (reference and fast alike).
    bool writes_strided_output() const override { return true; }
    bool reads_strided_input() const override { return true; }
    int stride() const override { return m_wy.stride; }
    Field field(const std::vector<Field>& inputs) const override;
    std::string activation_name() const override { return m_activation_name; }
    long long params() const override;
    double flops(const std::vector<Shape>& inputs, const Shape& output) const override;
    bool fold_affine(const std::vector<float>& scale, const std::vector<float>& shift) override;
    /// bf16 Winograd only where crops are offset by whole 2 x dilation tiles (else the bf16 GEMM).
    void place(int multiple_y, int multiple_x) override;

private:
    /// The kernel shape with the spatial sizes of `in` (1x1 when packing).
    kernels::Conv2dShape kernel_shape(const Shape& in, const Shape& out) const;
    /// Chooses m_fast from m_bf16 and m_bf16_wino and packs m_kernel for it (after construction,
    /// folding and placing).
    void pack();

    Window1d m_wy;
    Window1d m_wx;
    int m_in_c = 0;
    int m_out_c = 0;
    std::vector<float> m_kernel;                    // HWIO, for the reference kernel
    const kernels::Conv2dVariant* m_fast = nullptr; // chosen once per process (dispatch.hpp)
    kernels::PackedWeights m_packed;                // m_kernel in m_fast's layout
    bool m_bf16 = false;      // runs conv2d_bf16 kernels (BuildOptions::precision)
    bool m_bf16_wino = false; // runs conv2d_bf16_wino kernels (BuildOptions::bf16_winograd)
    kernels::PackedWeights m_ref_bf16; // m_bf16: m_kernel rounded, for the bf16 (wino) oracle
    std::vector<float> m_bias;         // empty: no bias
    kernels::Activation m_activation;
    std::string m_activation_name;
};

} // namespace atrous::infer
