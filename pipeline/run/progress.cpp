// SPDX-License-Identifier: Apache-2.0
// Purpose: logger sinks and the progress line.
#include "progress.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <unistd.h>

namespace atrous
{
namespace
{

/// Info -> stdout, warn/error -> stderr, one flush per line (logs interleave with the bar).
class ConsoleSink final : public spdlog::sinks::base_sink<std::mutex>
{
public:
    explicit ConsoleSink(bool timestamps) : m_timestamps(timestamps) {}

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override
    {
        const std::string_view text(msg.payload.data(), msg.payload.size());
        if (msg.level >= spdlog::level::warn)
        {
            fmt::print(stderr, "atrous: {}: {}\n",
                       msg.level >= spdlog::level::err ? "error" : "warning", text);
            std::fflush(stderr);
            return;
        }
        if (m_timestamps)
        {
            const std::time_t t = std::chrono::system_clock::to_time_t(msg.time);
            std::tm tm{};
            localtime_r(&t, &tm);
            fmt::print(stdout, "[{:%Y-%m-%d %H:%M:%S}] {}\n", tm, text);
        }
        else
        {
            fmt::print(stdout, "{}\n", text);
        }
        std::fflush(stdout);
    }
    void flush_() override
    {
        std::fflush(stdout);
        std::fflush(stderr);
    }

private:
    bool m_timestamps;
};

} // namespace

LogFormat detect_log_format()
{
    return isatty(fileno(stdout)) ? LogFormat::bar : LogFormat::plain;
}

std::shared_ptr<spdlog::logger> make_logger(LogFormat format)
{
    auto sink = std::make_shared<ConsoleSink>(format == LogFormat::plain);
    auto log = std::make_shared<spdlog::logger>("atrous", std::move(sink));
    log->set_level(format == LogFormat::quiet ? spdlog::level::err : spdlog::level::info);
    return log;
}

Progress::Progress(LogFormat format, long long total_tiles, double total_gflop, std::FILE* out,
                   std::chrono::milliseconds plain_interval)
    : m_format(format), m_total(total_tiles), m_total_gflop(total_gflop), m_out(out),
      m_interval(plain_interval), m_start(Clock::now()), m_last_print(m_start)
{
}

std::string Progress::duration(double seconds)
{
    if (!std::isfinite(seconds) || seconds < 0)
        return "?";
    const long long s = std::llround(seconds);
    if (s >= 3600)
        return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string Progress::line(long long done, long long total, double seconds, double gflop_done,
                           double gflop_total, double gflop_skipped)
{
    const double pct = total > 0 ? 100.0 * static_cast<double>(done) / total : 100.0;
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
    // Work left is measured in FLOP when known (edge tiles are smaller), else in tiles; the
    // planned work passed includes the empty tiles skipped, so their speed counts in.
    double left = rate > 0 ? static_cast<double>(total - done) / rate : -1.0;
    const double passed = gflop_done + gflop_skipped;
    if (gflop_total > 0 && passed > 0 && seconds > 0)
        left = std::max(0.0, gflop_total - passed) / (passed / seconds);
    const std::string eta = done >= total ? "done" : left >= 0 ? "ETA " + duration(left) : "ETA ?";
    return fmt::format("tiles {}/{} ({:.1f}%)  {:.2f} tiles/s  {:.1f} GFLOP/s  elapsed {}  {}",
                       done, total, pct, rate, seconds > 0 ? gflop_done / seconds : 0.0,
                       duration(seconds), eta);
}

void Progress::advance(long long tiles, double gflop, double gflop_skipped)
{
    std::lock_guard lock(m_mutex);
    m_done += tiles;
    m_gflop_done += gflop;
    m_gflop_skipped += gflop_skipped;
    const auto now = Clock::now();
    const auto since = now - m_last_print;
    if (m_format == LogFormat::bar && since >= std::chrono::milliseconds(200))
        print(now, false);
    else if (m_format == LogFormat::plain && since >= m_interval)
        print(now, false);
}

void Progress::finish()
{
    std::lock_guard lock(m_mutex);
    if (m_finished)
        return;
    m_finished = true;
    // A plain log that just printed the final state needs no second copy of it.
    if (m_format == LogFormat::plain && m_printed_done == m_done)
        return;
    print(Clock::now(), true);
}

long long Progress::done() const
{
    std::lock_guard lock(m_mutex);
    return m_done;
}

void Progress::print(Clock::time_point now, bool final)
{
    m_last_print = now;
    m_printed_done = m_done;
    if (m_format == LogFormat::quiet || !m_out)
        return;
    const double seconds = std::chrono::duration<double>(now - m_start).count();
    const std::string text =
        line(m_done, m_total, seconds, m_gflop_done, m_total_gflop, m_gflop_skipped);
    if (m_format == LogFormat::bar)
    {
        // \r + erase-line keeps one live line; the final state stays with a newline.
        fmt::print(m_out, "\r\x1b[2K{}{}", text, final ? "\n" : "");
    }
    else
    {
        const std::time_t t = std::time(nullptr);
        std::tm tm{};
        localtime_r(&t, &tm);
        fmt::print(m_out, "[{:%Y-%m-%d %H:%M:%S}] {}\n", tm, text);
    }
    std::fflush(m_out);
}

} // namespace atrous
