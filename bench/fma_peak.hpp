// SPDX-License-Identifier: Apache-2.0
// Purpose: the measured FMA peak the benchmarks report their rates against.
#pragma once

namespace atrous::bench
{

/// GFLOP/s of a tight AVX2 FMA loop (12 independent ymm chains, 2 FLOP per lane) on `threads`
/// threads at once, best of a few runs of ~0.2 s; 0 when the CPU lacks AVX2+FMA.
double fma_peak_gflops(int threads);

} // namespace atrous::bench
