// SPDX-License-Identifier: Apache-2.0
// Purpose: weight packing for the SIMD kernels, compiled without ISA flags: packing runs once at
// load, and template code instantiated in an -mavx* translation unit must not be shared (the
// linker keeps one copy of each inline function, possibly the one with AVX-512 instructions).

#include "stages/infer/kernels/kernels.hpp"

namespace atrous::infer::kernels
{

PackedWeights pack_cout_blocks(const Conv2dShape& s, const float* hwio, int block)
{
    const int blocks = (s.out_c + block - 1) / block;
    const int taps = s.kh * s.kw;
    PackedWeights packed(static_cast<std::size_t>(blocks) * taps * s.in_c * block, 0.0f);
    for (int cb = 0; cb < blocks; ++cb)
        for (int t = 0; t < taps; ++t)
            for (int ci = 0; ci < s.in_c; ++ci)
                for (int j = 0; j < block && cb * block + j < s.out_c; ++j)
                    packed[((static_cast<std::size_t>(cb) * taps + t) * s.in_c + ci) * block + j] =
                        hwio[(static_cast<std::size_t>(t) * s.in_c + ci) * s.out_c + cb * block +
                             j];
    return packed;
}

} // namespace atrous::infer::kernels
