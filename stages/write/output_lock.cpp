// SPDX-License-Identifier: Apache-2.0
// Purpose: OutputLock: flock on "<output>.lock" (opened with O_NOFOLLOW), with the inode
// re-checked so that a lock file removed by a finishing run is never trusted; an O_EXCL lock file
// where the file system has no flock.
#include "output_lock.hpp"

#include "stages/error.hpp"
#include "stages/write/safe_file.hpp"

#include <array>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sstream>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace atrous
{

namespace
{

std::string host_name()
{
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0)
        return "unknown-host";
    return name.data();
}

/// What a lock file holds: "<pid> <host>" (older runs: "<pid>"); empty when unreadable.
std::string read_holder(int fd)
{
    std::array<char, 300> buf{};
    const ssize_t n = ::pread(fd, buf.data(), buf.size() - 1, 0);
    std::string holder = n > 0 ? std::string(buf.data(), static_cast<std::size_t>(n)) : "";
    while (!holder.empty() && std::isspace(static_cast<unsigned char>(holder.back())))
        holder.pop_back();
    return holder;
}

/// "pid 123 on node7" for the messages.
std::string holder_text(const std::string& holder)
{
    std::istringstream in(holder);
    std::string pid, host;
    in >> pid >> host;
    if (pid.empty())
        return "";
    return "pid " + pid + (host.empty() ? "" : " on " + host) + ", ";
}

/// File systems without flock (Lustre's "noflock", some NFS setups) answer with one of these.
bool flock_unsupported(int err)
{
    return err == ENOLCK || err == EOPNOTSUPP || err == ENOTSUP || err == EINVAL || err == ENOSYS;
}

/// A lock file left by a run on this host whose process is gone.
bool stale_here(const std::string& holder, const std::string& host)
{
    std::istringstream in(holder);
    long long pid = 0;
    std::string their_host;
    if (!(in >> pid >> their_host) || pid <= 0 || their_host != host)
        return false;
    return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

} // namespace

std::unique_ptr<OutputLock> OutputLock::acquire(const std::filesystem::path& output,
                                                const std::string& where, const WarnFunction& warn,
                                                const FlockFunction& flock)
{
    const std::filesystem::path path(output.string() + ".lock");
    const std::string host = host_name();
    const std::string me = std::to_string(::getpid()) + " " + host + "\n";
    const auto lock_call = [&](int fd)
    { return flock ? flock(fd, LOCK_EX | LOCK_NB) : ::flock(fd, LOCK_EX | LOCK_NB); };
    for (int attempt = 0; attempt < 8; ++attempt)
    {
        bool created = true;
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST)
        {
            created = false;
            // Another run's lock file (or one left by a killed run): never through a link, never
            // blocking on a FIFO.
            fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0 && errno == ENOENT)
                continue; // removed meanwhile by the run that held it
            if (fd < 0 && errno != ELOOP && errno != ENXIO)
                return nullptr;
            struct stat st
            {
            };
            const bool regular = fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
            if (!regular || st.st_nlink != 1 ||
                (st.st_size > 0 && !std::isdigit(static_cast<unsigned char>(read_holder(fd)[0]))))
            {
                if (fd >= 0)
                    ::close(fd);
                const safe_file::Entry e = safe_file::entry(path);
                const std::string what = e.kind != safe_file::Entry::Kind::regular ? "is " + e.what
                                         : e.links != 1
                                             ? "has " + std::to_string(e.links) + " hard links"
                                             : "does not hold a process id";
                throw OutputError(where, path.string() + ": " + what +
                                             "; not atrous' lock file, left alone (remove it)");
            }
        }
        if (fd < 0)
        {
            if (errno == ELOOP)
                throw OutputError(where, path.string() + ": is " + safe_file::entry(path).what +
                                             "; atrous never writes through a link (remove it)");
            return nullptr;
        }
        if (lock_call(fd) != 0)
        {
            const int err = errno;
            const std::string holder = read_holder(fd);
            if (err == EWOULDBLOCK)
            {
                ::close(fd);
                throw OutputError(where, output.string() + ": being written by another run (" +
                                             holder_text(holder) + "lock " + path.string() + ")");
            }
            if (!flock_unsupported(err))
            {
                ::close(fd);
                throw OutputError(where, path.string() + ": flock: " + safe_file::errno_text(err));
            }
            // No flock here: the exclusive creation above is the lock.
            if (created)
            {
                if (::pwrite(fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size()))
                {
                    const int werr = errno;
                    ::close(fd);
                    ::unlink(path.c_str());
                    throw OutputError(where, path.string() + ": " + safe_file::errno_text(werr));
                }
                if (warn)
                    warn(where + ": " + path.parent_path().string() +
                         ": the file system does not support flock (" + safe_file::errno_text(err) +
                         "); locking by the exclusive creation of " + path.string() +
                         " instead (remove it by hand if a run killed on another "
                         "host leaves it)");
                return std::unique_ptr<OutputLock>(new OutputLock(path, fd, true));
            }
            ::close(fd);
            if (stale_here(holder, host))
            {
                ::unlink(path.c_str()); // its process is gone: take the name over
                continue;
            }
            throw OutputError(where, output.string() + ": being written by another run (" +
                                         holder_text(holder) + "lock " + path.string() +
                                         "; flock is not supported here: if no run is writing "
                                         "the output, remove the lock file)");
        }
        // The holder before us may have removed the file after we opened it: then our lock is on
        // an orphan inode and a third run could lock a new file. Retry until both agree.
        struct stat by_fd
        {
        }, by_name{};
        if (::fstat(fd, &by_fd) == 0 && ::lstat(path.c_str(), &by_name) == 0 &&
            by_fd.st_ino == by_name.st_ino && by_fd.st_dev == by_name.st_dev)
        {
            if (::ftruncate(fd, 0) == 0)
            {
                [[maybe_unused]] const ssize_t w = ::pwrite(fd, me.data(), me.size(), 0);
            }
            return std::unique_ptr<OutputLock>(new OutputLock(path, fd, false));
        }
        ::close(fd);
    }
    throw OutputError(where, path.string() + ": lock file keeps changing; another run?");
}

OutputLock::~OutputLock()
{
    // Remove while still holding the lock, so nobody locks the name we are about to drop; only
    // when the name is still our file.
    struct stat by_fd
    {
    }, by_name{};
    if (::fstat(m_fd, &by_fd) == 0 && ::lstat(m_path.c_str(), &by_name) == 0 &&
        by_fd.st_ino == by_name.st_ino && by_fd.st_dev == by_name.st_dev)
        ::unlink(m_path.c_str());
    ::close(m_fd);
}

} // namespace atrous
