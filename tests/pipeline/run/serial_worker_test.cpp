// SPDX-License-Identifier: Apache-2.0
// Purpose: SerialWorker (pipeline/run/serial_worker.hpp): jobs run in order on one thread, the
// queue is bounded, a job's exception reaches the caller intact (also when it waits on a full
// queue), and the destructor runs what was handed over.
#include "pipeline/run/serial_worker.hpp"
#include "stages/error.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace atrous
{
namespace
{

TEST(SerialWorker, RunsJobsInOrderOnOneThread)
{
    std::vector<int> order;
    std::thread::id worker_id;
    bool one_thread = true;
    {
        SerialWorker worker(2);
        for (int i = 0; i < 50; ++i)
            worker.push(
                [&, i]
                {
                    if (i == 0)
                        worker_id = std::this_thread::get_id();
                    else if (std::this_thread::get_id() != worker_id)
                        one_thread = false;
                    order.push_back(i);
                });
        worker.drain();
        EXPECT_EQ(order.size(), 50u);
        EXPECT_GE(worker.busy_seconds(), 0.0);
    }
    EXPECT_TRUE(one_thread);
    EXPECT_NE(worker_id, std::this_thread::get_id());
    for (int i = 0; i < 50; ++i)
        ASSERT_EQ(order[static_cast<std::size_t>(i)], i);
}

TEST(SerialWorker, PushWaitsWhileTheQueueIsFull)
{
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> ran{0};
    SerialWorker worker(1);
    worker.push(
        [&]
        {
            released.wait();
            ++ran;
        });                      // running
    worker.push([&] { ++ran; }); // queued: the queue is full
    std::atomic<bool> pushed{false};
    std::thread pusher(
        [&]
        {
            worker.push([&] { ++ran; });
            pushed = true;
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(pushed);
    release.set_value();
    pusher.join();
    worker.drain();
    EXPECT_TRUE(pushed);
    EXPECT_EQ(ran, 3);
}

TEST(SerialWorker, AFailedJobWakesAPushOnAFullQueueWithItsException)
{
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    bool later_ran = false;
    SerialWorker worker(1);
    worker.push(
        [&]
        {
            released.wait();
            throw OutputError("write.hdf5", "out.h5: No space left on device");
        });
    worker.push([&] { later_ran = true; }); // the queue is full now
    std::thread failer(
        [&]
        {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            release.set_value();
        });
    try
    {
        worker.push([&] { later_ran = true; }); // blocks until the first job fails
        FAIL() << "no error";
    }
    catch (const OutputError& e)
    {
        EXPECT_EQ(std::string(e.what()), "write.hdf5: out.h5: No space left on device");
    }
    failer.join();
    EXPECT_THROW(worker.check(), OutputError);
    EXPECT_THROW(worker.drain(), OutputError);
    EXPECT_THROW(worker.push([] {}), OutputError);
    EXPECT_FALSE(later_ran); // the jobs queued behind the failed one are dropped
}

TEST(SerialWorker, DestructorRunsTheJobsHandedOver)
{
    std::atomic<int> ran{0};
    try
    {
        SerialWorker worker(8);
        for (int i = 0; i < 8; ++i)
            worker.push(
                [&]
                {
                    std::this_thread::sleep_for(std::chrono::milliseconds(2));
                    ++ran;
                });
        throw std::runtime_error("the caller's own error");
    }
    catch (const std::runtime_error&)
    {
    }
    EXPECT_EQ(ran, 8);
}

} // namespace
} // namespace atrous
