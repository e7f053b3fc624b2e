// SPDX-License-Identifier: Apache-2.0
// Purpose: how a run talks to its user: the logger (plain batch lines or a live TTY bar, --quiet)
// and the progress line (tiles done/total, tiles/s, GFLOP/s, ETA).
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace spdlog
{
class logger;
}

namespace atrous
{

enum class LogFormat
{
    bar,   // live single progress line redrawn with '\r' (a TTY)
    plain, // one progress line per interval, timestamps (batch logs, not a TTY)
    quiet, // errors only
};

/// `auto` -> bar when stdout is a terminal, else plain.
LogFormat detect_log_format();

/// Info to stdout ("[time] message" in plain mode), warnings and errors to stderr
/// ("atrous: warning: ..."); quiet: errors only.
std::shared_ptr<spdlog::logger> make_logger(LogFormat format);

/// Progress of one run. advance() may be called from any thread (serialized inside).
class Progress
{
public:
    using Clock = std::chrono::steady_clock;

    Progress(LogFormat format, long long total_tiles, double total_gflop, std::FILE* out,
             std::chrono::milliseconds plain_interval = std::chrono::seconds(10));

    /// `tiles` more tiles are complete, carrying `gflop` of work run through the network;
    /// `gflop_skipped` is planned work found unnecessary (an empty tile, not inferred): it
    /// counts toward the work done for the ETA, never toward GFLOP/s.
    void advance(long long tiles, double gflop, double gflop_skipped = 0);
    /// Prints the last state (a newline after the bar).
    void finish();

    long long done() const;

    /// The progress line for a state (no newline): "tiles 12/64 (18.8%)  1.92 tiles/s
    /// 23.4 GFLOP/s  elapsed 0:06  ETA 0:27". GFLOP/s counts only the work run
    /// (`gflop_done`); the ETA scales the time so far by the planned work left over the planned
    /// work passed (`gflop_done` + `gflop_skipped`: empty tiles passed cost nearly nothing, and
    /// the rate they give the estimate reflects that).
    static std::string line(long long done, long long total, double seconds, double gflop_done,
                            double gflop_total = 0, double gflop_skipped = 0);
    /// h:mm:ss or m:ss.
    static std::string duration(double seconds);

private:
    void print(Clock::time_point now, bool final);

    LogFormat m_format;
    long long m_total;
    double m_total_gflop;
    std::FILE* m_out;
    std::chrono::milliseconds m_interval;
    Clock::time_point m_start;
    Clock::time_point m_last_print;
    long long m_done = 0;
    long long m_printed_done = -1; // m_done when last printed
    double m_gflop_done = 0;
    double m_gflop_skipped = 0;
    bool m_finished = false;
    mutable std::mutex m_mutex;
};

} // namespace atrous
