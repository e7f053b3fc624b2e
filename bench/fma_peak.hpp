// SPDX-License-Identifier: Apache-2.0
// Purpose: the measured FMA peak the benchmarks report their rates against.
#pragma once

#include "stages/infer/kernels/kernels.hpp"

namespace atrous::bench
{

/// GFLOP/s of a tight FMA loop of `isa`'s vectors (12 independent chains, 2 FLOP per lane: ymm
/// for avx2_fma, zmm for avx512f) on `threads` threads at once, best of 3 runs; 0 for generic
/// or when the CPU lacks the ISA.
double fma_peak_gflops(int threads, infer::kernels::Isa isa);

} // namespace atrous::bench
