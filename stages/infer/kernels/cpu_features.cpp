// SPDX-License-Identifier: Apache-2.0
// Purpose: CPU feature checks (GCC's __builtin_cpu_supports).
#include "cpu_features.hpp"

namespace atrous::infer::kernels
{

bool cpu_supports(Isa isa)
{
    switch (isa)
    {
    case Isa::generic:
        return true;
    case Isa::avx2_fma:
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
        return false;
#endif
    case Isa::avx512f:
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#else
        return false;
#endif
    case Isa::avx512_bf16:
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
#else
        return false;
#endif
    case Isa::amx_bf16:
        // clang 14 knows no AMX feature strings (the fuzz build compiles this file with it).
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
        return __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16");
#else
        return false;
#endif
    }
    return false;
}

std::string_view isa_name(Isa isa)
{
    switch (isa)
    {
    case Isa::generic:
        return "generic";
    case Isa::avx2_fma:
        return "avx2_fma";
    case Isa::avx512f:
        return "avx512f";
    case Isa::avx512_bf16:
        return "avx512_bf16";
    case Isa::amx_bf16:
        return "amx_bf16";
    }
    return "?";
}

std::string bf16_missing_feature()
{
    // The bf16 variants of kernels.def: AVX-512 BF16 (an AMX kernel, when written, needs AMX-BF16
    // CPUs, which all have AVX-512 BF16 too).
    return cpu_supports(Isa::avx512_bf16)
               ? ""
               : "this CPU has no AVX512_BF16 (nor AMX-BF16), which bf16 needs";
}

} // namespace atrous::infer::kernels
