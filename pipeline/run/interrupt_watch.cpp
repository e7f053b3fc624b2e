// SPDX-License-Identifier: Apache-2.0
// Purpose: the signal handlers behind InterruptWatch (sigaction, async-signal-safe).
#include "interrupt_watch.hpp"

#include <atomic>
#include <csignal>

namespace atrous
{
namespace
{

constexpr int watched[] = {SIGTERM, SIGINT, SIGUSR1};
// Set only by on_signal, read by every thread (a signal lands on any of them): a lock-free atomic
// is both async-signal-safe and race-free, where volatile sig_atomic_t is only the former.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);
struct sigaction g_previous[3];
int g_depth = 0; // nested watches (main thread only)

void on_signal(int sig)
{
    if (g_signal == sig)
    {
        // Second time: the previous disposition (the default terminates).
        for (int i = 0; i < 3; ++i)
        {
            if (watched[i] == sig)
                sigaction(sig, &g_previous[i], nullptr);
        }
        std::raise(sig);
        return;
    }
    g_signal = sig;
}

} // namespace

InterruptWatch::InterruptWatch()
{
    if (g_depth++ > 0)
        return; // an outer watch is installed: share its flag
    g_signal = 0;
    struct sigaction sa
    {
    };
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (int i = 0; i < 3; ++i)
        sigaction(watched[i], &sa, &g_previous[i]);
}

InterruptWatch::~InterruptWatch()
{
    if (--g_depth > 0)
        return;
    for (int i = 0; i < 3; ++i)
        sigaction(watched[i], &g_previous[i], nullptr);
}

bool InterruptWatch::requested() const
{
    return g_signal != 0;
}

int InterruptWatch::signal() const
{
    return g_signal;
}

const char* InterruptWatch::name(int signal)
{
    switch (signal)
    {
    case SIGTERM:
        return "SIGTERM";
    case SIGINT:
        return "SIGINT";
    case SIGUSR1:
        return "SIGUSR1";
    default:
        return "a signal";
    }
}

} // namespace atrous
