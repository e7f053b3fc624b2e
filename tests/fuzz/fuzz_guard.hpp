// SPDX-License-Identifier: Apache-2.0
// Purpose: the one rule every fuzz target checks: a loader may only fail with an atrous::Error
// (ConfigError, ModelError, ...); any other exception escaping it is a bug and aborts the run.
#pragma once

#include "stages/error.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <typeinfo>

namespace atrous::fuzz
{

/// Runs `load`; swallows atrous::Error (the documented failures; printed when the environment
/// sets ATROUS_FUZZ_VERBOSE), reports anything else on stderr with its type and message and
/// aborts, so libFuzzer and the replay driver record it.
template <class Load> void expect_only_atrous_errors(const char* target, Load&& load)
{
    try
    {
        load();
    }
    catch (const atrous::Error& e)
    {
        if (std::getenv("ATROUS_FUZZ_VERBOSE") != nullptr)
            std::fprintf(stderr, "%s: %s\n", target, e.what());
    }
    catch (const std::exception& e)
    {
        std::fprintf(stderr, "%s: undocumented exception %s escaped: %s\n", target,
                     typeid(e).name(), e.what());
        std::abort();
    }
    catch (...)
    {
        std::fprintf(stderr, "%s: a non-std exception escaped\n", target);
        std::abort();
    }
}

} // namespace atrous::fuzz
