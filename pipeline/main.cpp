// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous` entry point: the only catch. One line `atrous: <what>` on stderr and the
// error's exit status (2 config, 3 input, 4 model, 5 output, 70 internal); --debug rethrows.
#include "pipeline/cli.hpp"
#include "stages/error.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv)
{
    if (atrous::cli::wants_debug(argc, argv))
        return atrous::cli::run(argc, argv);
    try
    {
        return atrous::cli::run(argc, argv);
    }
    catch (const atrous::Error& e)
    {
        std::fflush(stdout);
        fmt::print(stderr, "atrous: {}\n", e.what());
        return e.exit_code();
    }
    catch (const std::exception& e)
    {
        std::fflush(stdout);
        fmt::print(stderr, "atrous: internal error: {}\n", e.what());
        return 70;
    }
}
