// SPDX-License-Identifier: Apache-2.0
// Purpose: OutputLock: a second lock on the same output is refused with the holder's pid; the lock
// file goes away with the lock; a missing directory yields no lock (the writer reports it).
#include "stages/error.hpp"
#include "stages/write/output_lock.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

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

std::string read_text(const std::filesystem::path& p)
{
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(OutputLock, PlantedLinkOrForeignFileIsRefusedAndNeverWritten)
{
    ScratchDir dir;
    const auto out = dir / "mask.h5";
    std::ofstream(dir / "victim") << "precious";
    std::filesystem::create_symlink(dir / "victim", dir / "mask.h5.lock");
    try
    {
        OutputLock::acquire(out, "write.hdf5");
        FAIL() << "a lock through a link";
    }
    catch (const OutputError& e)
    {
        EXPECT_NE(std::string(e.what()).find((dir / "mask.h5.lock").string() +
                                             ": is a symbolic link to " +
                                             (dir / "victim").string()),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(read_text(dir / "victim"), "precious");
    EXPECT_TRUE(std::filesystem::is_symlink(dir / "mask.h5.lock"));

    // Another program's file at the lock's name, a second name of a file, a FIFO: left alone.
    const auto other = dir / "o.h5";
    std::ofstream(dir / "o.h5.lock") << "not a pid";
    EXPECT_THROW(OutputLock::acquire(other, "w"), OutputError);
    EXPECT_EQ(read_text(dir / "o.h5.lock"), "not a pid");
    std::filesystem::create_hard_link(dir / "victim", dir / "p.h5.lock");
    EXPECT_THROW(OutputLock::acquire(dir / "p.h5", "w"), OutputError);
    ASSERT_EQ(::mkfifo((dir / "q.h5.lock").c_str(), 0600), 0);
    EXPECT_THROW(OutputLock::acquire(dir / "q.h5", "w"), OutputError); // and does not block
    EXPECT_EQ(read_text(dir / "victim"), "precious");
}

TEST(OutputLock, WithoutFlockTheExclusiveFileIsTheLockAndOneWarningSaysSo)
{
    ScratchDir dir;
    const auto out = dir / "mask.h5";
    const auto no_flock = [](int, int)
    {
        errno = ENOLCK;
        return -1;
    };
    std::vector<std::string> warnings;
    const auto warn = [&](const std::string& m) { warnings.push_back(m); };
    {
        auto first = OutputLock::acquire(out, "write.hdf5", warn, no_flock);
        ASSERT_NE(first, nullptr);
        EXPECT_TRUE(first->exclusive_file());
        ASSERT_EQ(warnings.size(), 1u);
        EXPECT_NE(warnings[0].find("does not support flock"), std::string::npos) << warnings[0];
        EXPECT_EQ(read_text(dir / "mask.h5.lock").rfind(std::to_string(::getpid()) + " ", 0), 0u);
        try
        {
            OutputLock::acquire(out, "write.hdf5", warn, no_flock);
            FAIL() << "second lock granted";
        }
        catch (const OutputError& e)
        {
            EXPECT_NE(std::string(e.what()).find("being written by another run (pid " +
                                                 std::to_string(::getpid())),
                      std::string::npos)
                << e.what();
        }
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "mask.h5.lock"));

    // A lock file left by a killed run on this host (its pid is gone) is taken over.
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    pid_t dead = ::fork();
    if (dead == 0)
        ::_exit(0);
    ASSERT_GT(dead, 0);
    int status = 0;
    ::waitpid(dead, &status, 0);
    std::ofstream(dir / "mask.h5.lock") << dead << " " << host << "\n";
    auto again = OutputLock::acquire(out, "write.hdf5", warn, no_flock);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(read_text(dir / "mask.h5.lock").rfind(std::to_string(::getpid()) + " ", 0), 0u);
}

} // namespace
} // namespace atrous
