// SPDX-License-Identifier: Apache-2.0
// Purpose: SerialWorker: a bounded job queue drained by one thread.
#include "serial_worker.hpp"

#include <algorithm>
#include <chrono>

namespace atrous
{
namespace
{

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t)
{
    return std::chrono::duration<double>(Clock::now() - t).count();
}

} // namespace

SerialWorker::SerialWorker(std::size_t capacity)
    : m_capacity(std::max<std::size_t>(1, capacity)), m_thread([this] { loop(); })
{
}

SerialWorker::~SerialWorker()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_changed.notify_all();
    m_thread.join();
}

double SerialWorker::push(std::function<void()> job)
{
    const auto t0 = Clock::now();
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_error || m_jobs.size() < m_capacity; });
    if (m_error)
        std::rethrow_exception(m_error);
    m_jobs.push_back(std::move(job));
    lock.unlock();
    m_changed.notify_all();
    return seconds_since(t0);
}

double SerialWorker::drain()
{
    const auto t0 = Clock::now();
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_error || (m_jobs.empty() && !m_running); });
    if (m_error)
        std::rethrow_exception(m_error);
    return seconds_since(t0);
}

void SerialWorker::check() const
{
    std::lock_guard lock(m_mutex);
    if (m_error)
        std::rethrow_exception(m_error);
}

double SerialWorker::busy_seconds() const
{
    std::lock_guard lock(m_mutex);
    return m_busy;
}

void SerialWorker::loop()
{
    std::unique_lock lock(m_mutex);
    for (;;)
    {
        m_changed.wait(lock, [&] { return m_stop || !m_jobs.empty(); });
        if (m_jobs.empty())
            return; // stopped, nothing left
        std::function<void()> job = std::move(m_jobs.front());
        m_jobs.pop_front();
        m_running = true;
        lock.unlock();
        m_changed.notify_all(); // a slot freed for push()
        const auto t0 = Clock::now();
        std::exception_ptr error;
        try
        {
            job();
        }
        catch (...)
        {
            error = std::current_exception();
        }
        job = nullptr; // its captures go on this thread, outside the lock
        const double busy = seconds_since(t0);
        lock.lock();
        m_busy += busy;
        m_running = false;
        if (error)
        {
            m_error = error;
            m_jobs.clear();
        }
        m_changed.notify_all();
        if (m_error)
            return;
    }
}

} // namespace atrous
