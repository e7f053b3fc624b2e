// SPDX-License-Identifier: Apache-2.0
// Purpose: kernels.def expanded into the variant table; CPU feature checks.

#include "dispatch.hpp"

#include <array>

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
    }
    return "?";
}

namespace
{

constexpr std::array k_conv2d_variants = {
#define ATROUS_KERNEL(op, name, isa, fn) Conv2dVariant{#name, Isa::isa, &fn##_pack, &fn},
#include "stages/infer/kernels/kernels.def"
#undef ATROUS_KERNEL
};

const Conv2dVariant& pick_conv2d()
{
    for (auto it = k_conv2d_variants.rbegin(); it != k_conv2d_variants.rend(); ++it)
        if (cpu_supports(it->isa))
            return *it;
    return k_conv2d_variants.front();
}

} // namespace

std::span<const Conv2dVariant> conv2d_variants()
{
    return k_conv2d_variants;
}

const Conv2dVariant& conv2d_fast()
{
    static const Conv2dVariant& chosen = pick_conv2d(); // once per process
    return chosen;
}

} // namespace atrous::infer::kernels
