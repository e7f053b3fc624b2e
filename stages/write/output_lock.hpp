// SPDX-License-Identifier: Apache-2.0
// Purpose: an exclusive advisory lock on "<output>.lock" so that two runs never write the same
// output at once (the second is refused before it touches anything).
#pragma once

#include <filesystem>
#include <memory>

namespace atrous
{

/// Holds flock(LOCK_EX) on "<output>.lock" for its lifetime; the destructor removes the lock file
/// and releases the lock. Non-blocking: a held lock means another run writes the output.
class OutputLock
{
public:
    ~OutputLock();
    OutputLock(const OutputLock&) = delete;
    OutputLock& operator=(const OutputLock&) = delete;

    /// Locks `output`. Throws OutputError(where, "<output>: being written by another run (pid N,
    /// lock <output>.lock)") when another process holds the lock. Returns nullptr when the lock
    /// file cannot be created at all (missing or read-only directory): the caller's own checks
    /// report that with a better message.
    static std::unique_ptr<OutputLock> acquire(const std::filesystem::path& output,
                                               const std::string& where);

    const std::filesystem::path& path() const { return m_path; }

private:
    OutputLock(std::filesystem::path path, int fd) : m_path(std::move(path)), m_fd(fd) {}
    std::filesystem::path m_path;
    int m_fd = -1;
};

} // namespace atrous
