// SPDX-License-Identifier: Apache-2.0
// Purpose: SIGTERM / SIGINT / SIGUSR1 turned into a request to stop taking new tiles (the run
// then finishes the tiles in flight, records its progress and exits 75).
#pragma once

namespace atrous
{

/// Installs handlers for SIGTERM, SIGINT and SIGUSR1 for its lifetime and restores the previous
/// ones. The first signal only sets a flag; a second one of the same kind gets the previous
/// disposition (e.g. a second Ctrl-C terminates at once). A signal is process-wide, so is the
/// flag behind it (the one piece of global state here, written only by the handler). Watches
/// nest (constructed and destroyed on the main thread): an inner one shares the outer one's flag,
/// and only the outermost restores the previous handlers.
class InterruptWatch
{
public:
    InterruptWatch();
    ~InterruptWatch();
    InterruptWatch(const InterruptWatch&) = delete;
    InterruptWatch& operator=(const InterruptWatch&) = delete;

    /// A signal arrived since construction.
    bool requested() const;
    /// The signal's number (0 = none).
    int signal() const;
    /// "SIGTERM", "SIGINT", "SIGUSR1".
    static const char* name(int signal);
};

} // namespace atrous
