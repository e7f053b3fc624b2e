// SPDX-License-Identifier: Apache-2.0
// Purpose: an exclusive advisory lock on "<output>.lock" so that two runs never write the same
// output at once (the second is refused before it touches anything).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace atrous
{

/// Holds flock(LOCK_EX) on "<output>.lock" for its lifetime; the destructor removes the lock file
/// and releases the lock. Non-blocking: a held lock means another run writes the output.
///
/// The lock file is opened with O_NOFOLLOW and must be a regular file with one name holding
/// "<pid> <host>" (or nothing): a link, a device or another program's file there is an
/// OutputError naming it, and is never written. Where the file system does not support flock
/// (Lustre mounted without it: ENOLCK, EOPNOTSUPP, EINVAL), a warning is printed once and the lock
/// is the file's exclusive creation (O_EXCL) instead: a second run finds it and is refused; one
/// left by a killed run on this host (its pid gone) is taken over, one from another host must be
/// removed by hand.
class OutputLock
{
public:
    ~OutputLock();
    OutputLock(const OutputLock&) = delete;
    OutputLock& operator=(const OutputLock&) = delete;

    /// flock(2), or a stand-in for tests (a file system without flock).
    using FlockFunction = std::function<int(int fd, int operation)>;
    /// Called with the one-line warning when flock is not supported.
    using WarnFunction = std::function<void(const std::string&)>;

    /// Locks `output`. Throws OutputError(where, "<output>: being written by another run (pid N on
    /// host, lock <output>.lock)") when another process holds the lock, OutputError naming the lock
    /// file when it is a link or not atrous'. Returns nullptr when the lock file cannot be created
    /// at all (missing or read-only directory): the caller's own checks report that with a better
    /// message.
    static std::unique_ptr<OutputLock> acquire(const std::filesystem::path& output,
                                               const std::string& where,
                                               const WarnFunction& warn = {},
                                               const FlockFunction& flock = {});

    const std::filesystem::path& path() const { return m_path; }
    /// true: flock was not supported; the lock is the exclusively created file.
    bool exclusive_file() const { return m_exclusive_file; }

private:
    OutputLock(std::filesystem::path path, int fd, bool exclusive_file)
        : m_path(std::move(path)), m_fd(fd), m_exclusive_file(exclusive_file)
    {
    }
    std::filesystem::path m_path;
    int m_fd = -1;
    bool m_exclusive_file = false;
};

} // namespace atrous
