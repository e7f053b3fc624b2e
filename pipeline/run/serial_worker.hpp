// SPDX-License-Identifier: Apache-2.0
// Purpose: one thread running jobs in the order they were queued, with a bounded queue; a job's
// exception is rethrown on the thread that queues or waits next. The stream executor's writer
// and read-ahead run on such threads, beside its loop.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace atrous
{

/// Runs queued jobs one at a time on a thread of its own, in queue order. At most `capacity`
/// jobs wait at once: push() blocks while the queue is full. The first job that throws stops the
/// worker: the jobs still queued are dropped and every later push(), drain() or check() rethrows
/// that exception (type and message intact) on the caller's thread, so a caller blocked on a
/// full queue is woken, never left waiting. The destructor runs the jobs still queued (unless
/// one failed), joins the thread and never throws: a caller leaving on an exception of its own
/// still has every job it handed over run.
class SerialWorker
{
public:
    explicit SerialWorker(std::size_t capacity);
    ~SerialWorker();
    SerialWorker(const SerialWorker&) = delete;
    SerialWorker& operator=(const SerialWorker&) = delete;

    /// Queues `job`, waiting while the queue is full; returns the seconds spent waiting. Throws
    /// a failed job's exception (the job is then not queued).
    double push(std::function<void()> job);
    /// Waits until every queued job has run; returns the seconds spent waiting. Throws a failed
    /// job's exception.
    double drain();
    /// Throws a failed job's exception, if any; never waits.
    void check() const;
    /// Seconds the thread spent running jobs so far (exact once drain() returned).
    double busy_seconds() const;

private:
    void loop();

    mutable std::mutex m_mutex;
    std::condition_variable m_changed; // queue, running, error or stop changed
    std::deque<std::function<void()>> m_jobs;
    std::size_t m_capacity;
    bool m_running = false; // a job taken from the queue is running
    bool m_stop = false;
    std::exception_ptr m_error;
    double m_busy = 0;
    std::thread m_thread; // last: started once the rest is initialized
};

} // namespace atrous
