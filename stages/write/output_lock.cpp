// SPDX-License-Identifier: Apache-2.0
// Purpose: OutputLock: flock on "<output>.lock", with the inode re-checked so that a lock file
// removed by a finishing run is never trusted.
#include "output_lock.hpp"

#include "stages/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace atrous
{

std::unique_ptr<OutputLock> OutputLock::acquire(const std::filesystem::path& output,
                                                const std::string& where)
{
    const std::filesystem::path path(output.string() + ".lock");
    for (int attempt = 0; attempt < 8; ++attempt)
    {
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return nullptr;
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0)
        {
            const int err = errno;
            std::string holder;
            char buf[32] = {};
            const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
            if (n > 0)
                holder = std::string(buf, static_cast<std::size_t>(n));
            while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' '))
                holder.pop_back();
            ::close(fd);
            if (err == EWOULDBLOCK)
                throw OutputError(where, output.string() + ": being written by another run (" +
                                             (holder.empty() ? "" : "pid " + holder + ", ") +
                                             "lock " + path.string() + ")");
            throw OutputError(where, path.string() + ": flock: " + std::strerror(err));
        }
        // The holder before us may have removed the file after we opened it: then our lock is on
        // an orphan inode and a third run could lock a new file. Retry until both agree.
        struct stat by_fd
        {
        }, by_name{};
        if (::fstat(fd, &by_fd) == 0 && ::stat(path.c_str(), &by_name) == 0 &&
            by_fd.st_ino == by_name.st_ino && by_fd.st_dev == by_name.st_dev)
        {
            const std::string pid = std::to_string(::getpid()) + "\n";
            if (::ftruncate(fd, 0) == 0)
            {
                [[maybe_unused]] const ssize_t w = ::pwrite(fd, pid.data(), pid.size(), 0);
            }
            return std::unique_ptr<OutputLock>(new OutputLock(path, fd));
        }
        ::close(fd);
    }
    throw OutputError(where, path.string() + ": lock file keeps changing; another run?");
}

OutputLock::~OutputLock()
{
    // Remove while still holding the lock, so nobody locks the name we are about to drop.
    ::unlink(m_path.c_str());
    ::close(m_fd);
}

} // namespace atrous
