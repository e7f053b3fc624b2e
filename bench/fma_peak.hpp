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

/// The same loop on the calling thread, FLOPs per second of that thread's CPU time (best of 3):
/// the core's peak while it runs, close to the clean figure on a machine shared with other
/// processes (time slices taken by others do not count). 0 as above.
double fma_peak_cpu_gflops(infer::kernels::Isa isa);

/// CPU time consumed by the calling thread so far, in seconds.
double thread_cpu_seconds();

} // namespace atrous::bench
