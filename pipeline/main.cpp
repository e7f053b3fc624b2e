// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous` entry point: the only catch. One line `atrous: <what>` on stderr and the
// error's exit status (2 config, 3 input, 4 model, 5 output, 75 interrupted, 70 internal);
// --debug rethrows. Under MPI an error on any rank prints its line and aborts the job with it.
#include "pipeline/cli/cli.hpp"
#include "pipeline/comm/mpi_session.hpp"
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
        if (atrous::MpiSession::running())
            atrous::MpiSession::abort(e.exit_code());
        return e.exit_code();
    }
    catch (const std::exception& e)
    {
        std::fflush(stdout);
        fmt::print(stderr, "atrous: internal error: {}\n", e.what());
        if (atrous::MpiSession::running())
            atrous::MpiSession::abort(70);
        return 70;
    }
}
