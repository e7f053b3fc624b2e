// SPDX-License-Identifier: Apache-2.0
// Purpose: the `atrous` command line (CLI11): subcommands run, info, demo, export, preview,
// keys, synth (one file each beside this one).
#pragma once

namespace atrous::cli
{

/// Parses and runs. Returns the exit status (0 only when the output is complete); throws
/// atrous::Error for main() to print and map (usage errors are ConfigError).
int run(int argc, char** argv);

/// True when argv holds --debug: main() then lets exceptions propagate (for a debugger).
bool wants_debug(int argc, char** argv);

} // namespace atrous::cli
