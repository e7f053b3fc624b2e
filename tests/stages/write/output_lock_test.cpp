// SPDX-License-Identifier: Apache-2.0
// Purpose: OutputLock: a second lock on the same output is refused with the holder's pid; the lock
// file goes away with the lock; a missing directory yields no lock (the writer reports it).
#include "stages/error.hpp"
#include "stages/write/output_lock.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <unistd.h>

namespace atrous
{
namespace
{

using test::ScratchDir;

TEST(OutputLock, SecondLockIsRefusedNamingTheHolder)
{
    ScratchDir dir;
    const auto out = dir / "mask.h5";
    auto first = OutputLock::acquire(out, "write.hdf5");
    ASSERT_NE(first, nullptr);
    EXPECT_TRUE(std::filesystem::exists(dir / "mask.h5.lock"));
    try
    {
        // flock locks conflict between open file descriptions, even in one process.
        auto second = OutputLock::acquire(out, "write.hdf5");
        FAIL() << "second lock granted";
    }
    catch (const OutputError& e)
    {
        const std::string what = e.what();
        EXPECT_NE(what.find("write.hdf5: " + out.string() + ": being written by another run"),
                  std::string::npos)
            << what;
        EXPECT_NE(what.find("pid " + std::to_string(::getpid())), std::string::npos) << what;
        EXPECT_EQ(e.exit_code(), 5);
    }
}

TEST(OutputLock, ReleasedLockRemovesTheFileAndCanBeTakenAgain)
{
    ScratchDir dir;
    const auto out = dir / "mask.h5";
    {
        auto lock = OutputLock::acquire(out, "w");
        ASSERT_NE(lock, nullptr);
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "mask.h5.lock"));
    auto again = OutputLock::acquire(out, "w");
    EXPECT_NE(again, nullptr);
}

TEST(OutputLock, MissingDirectoryGivesNoLock)
{
    ScratchDir dir;
    EXPECT_EQ(OutputLock::acquire(dir / "nodir" / "mask.h5", "w"), nullptr);
}

} // namespace
} // namespace atrous
