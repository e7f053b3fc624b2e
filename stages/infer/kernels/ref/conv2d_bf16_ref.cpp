// SPDX-License-Identifier: Apache-2.0
// Purpose: the portable bf16 convolution oracle: conv2d_ref (plain loops, fp32 sums) on inputs
// and weights rounded to bf16 the way the SIMD bf16 kernels round them.

#include "stages/infer/kernels/kernels.hpp"

#include <vector>

namespace atrous::infer::kernels
{

PackedWeights conv2d_bf16_ref_pack(const Conv2dShape& s, const float* hwio)
{
    PackedWeights w(static_cast<std::size_t>(s.kh) * s.kw * s.in_c * s.out_c);
    for (std::size_t i = 0; i < w.size(); ++i)
        w[i] = round_to_bf16(hwio[i]);
    return w;
}

void conv2d_bf16_ref(const Conv2dShape& s, const float* in, const float* packed_w,
                     const float* bias, const Activation& act, float* out)
{
    // The reference may allocate: a rounded copy of the channels the convolution reads (the
    // products of two bf16 values are exact in fp32, so only the summation order can differ
    // from a SIMD kernel).
    const std::size_t span = s.in_span();
    std::vector<float> rounded(in, in + span);
    const std::size_t ips = s.in_stride();
    for (std::size_t p = 0; p * ips < span; ++p)
        for (int c = 0; c < s.in_c; ++c)
            rounded[p * ips + c] = round_to_bf16(rounded[p * ips + c]);
    conv2d_ref(s, rounded.data(), packed_w, bias, act, out);
}

} // namespace atrous::infer::kernels
