// SPDX-License-Identifier: Apache-2.0
// Purpose: safe_file: O_EXCL | O_NOFOLLOW creation, lstat-based checks, leftovers, renames.
#include "safe_file.hpp"

#include "stages/error.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace atrous::safe_file
{

namespace fs = std::filesystem;

std::string errno_text(int err)
{
    return std::strerror(err);
}

std::optional<FileId> identity(const fs::path& path)
{
    struct stat st
    {
    };
    if (::stat(path.c_str(), &st) != 0)
        return std::nullopt;
    return FileId{st.st_dev, st.st_ino};
}

Entry entry(const fs::path& path)
{
    Entry e;
    struct stat st
    {
    };
    if (::lstat(path.c_str(), &st) != 0)
        return e;
    e.id = FileId{st.st_dev, st.st_ino};
    e.links = st.st_nlink;
    e.size = st.st_size;
    if (S_ISREG(st.st_mode))
    {
        e.kind = Entry::Kind::regular;
        e.what = "a regular file";
    }
    else if (S_ISDIR(st.st_mode))
    {
        e.kind = Entry::Kind::directory;
        e.what = "a directory";
    }
    else if (S_ISLNK(st.st_mode))
    {
        e.kind = Entry::Kind::symlink;
        std::array<char, 4096> target{};
        const ssize_t n = ::readlink(path.c_str(), target.data(), target.size() - 1);
        e.what = n > 0 ? "a symbolic link to " + std::string(target.data(), static_cast<size_t>(n))
                       : std::string("a symbolic link");
    }
    else
    {
        e.kind = Entry::Kind::other;
        e.what = S_ISCHR(st.st_mode)    ? "a character device"
                 : S_ISBLK(st.st_mode)  ? "a block device"
                 : S_ISFIFO(st.st_mode) ? "a FIFO"
                 : S_ISSOCK(st.st_mode) ? "a socket"
                                        : "not a regular file";
    }
    return e;
}

void require_replaceable(const fs::path& path, const std::string& where)
{
    const Entry e = entry(path);
    if (e.kind == Entry::Kind::absent || e.kind == Entry::Kind::regular)
        return;
    throw OutputError(where, path.string() + ": is " + e.what +
                                 "; atrous replaces only regular files (never a link, "
                                 "directory, device, FIFO or socket)");
}

Fd::~Fd()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

Fd& Fd::operator=(Fd&& other) noexcept
{
    if (this != &other)
    {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = other.m_fd;
        other.m_fd = -1;
    }
    return *this;
}

int Fd::close()
{
    if (m_fd < 0)
        return 0;
    const int rc = ::close(m_fd);
    const int err = rc != 0 ? errno : 0;
    m_fd = -1;
    return err;
}

Fd create_exclusive(const fs::path& path, const std::string& where)
{
    // O_EXCL with O_CREAT never follows a link, even a dangling one: the call fails with EEXIST.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0)
        return Fd(fd);
    const int err = errno;
    if (err == EEXIST || err == ELOOP)
    {
        const Entry e = entry(path);
        if (e.kind == Entry::Kind::symlink)
            throw OutputError(where, path.string() + ": is " + e.what +
                                         "; atrous never writes through a link (remove it)");
        throw OutputError(where, path.string() + ": exists (" + e.what +
                                     ") and is not atrous' to replace (remove it)");
    }
    throw OutputError(where, path.string() + ": cannot create: " + errno_text(err));
}

Recognizer empty_or_starting_with(std::string magic)
{
    return [magic = std::move(magic)](const fs::path& path)
    {
        const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            return false;
        std::string head(magic.size(), '\0');
        const ssize_t n = ::pread(fd, head.data(), head.size(), 0);
        ::close(fd);
        return n == 0 || (n == static_cast<ssize_t>(magic.size()) && head == magic);
    };
}

void require_free_or_leftover(const fs::path& path, const Recognizer& ours,
                              const std::string& where)
{
    const Entry e = entry(path);
    switch (e.kind)
    {
    case Entry::Kind::absent:
        return;
    case Entry::Kind::symlink:
        throw OutputError(where, path.string() + ": is " + e.what +
                                     "; atrous never writes through a link (remove it)");
    case Entry::Kind::regular:
        if (e.links == 1 && ours(path))
            return;
        throw OutputError(where,
                          path.string() + ": exists and is not a file atrous left " +
                              (e.links == 1 ? std::string("(unknown content)")
                                            : "(" + std::to_string(e.links) + " hard links)") +
                              "; atrous does not replace it (remove it)");
    case Entry::Kind::directory:
    case Entry::Kind::other:
        break;
    }
    throw OutputError(where, path.string() + ": is " + e.what +
                                 "; atrous writes only regular files it creates (remove it)");
}

void clear_leftover(const fs::path& path, const Recognizer& ours, const std::string& where)
{
    require_free_or_leftover(path, ours, where);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        throw OutputError(where, path.string() + ": cannot remove a leftover of an earlier run: " +
                                     errno_text(errno));
}

void rename_into_place(const fs::path& from, const fs::path& to, const std::string& where)
{
    require_replaceable(to, where);
    if (::rename(from.c_str(), to.c_str()) != 0)
    {
        const int err = errno;
        throw OutputError(where, from.string() + ": cannot rename to " + to.string() + ": " +
                                     errno_text(err));
    }
}

void write_atomically(const fs::path& path, std::string_view bytes, const Recognizer& ours,
                      const std::string& where)
{
    require_replaceable(path, where);
    const fs::path partial(path.string() + ".partial");
    clear_leftover(partial, ours, where);
    Fd fd = create_exclusive(partial, where);
    const auto fail = [&](const std::string& what, int err)
    {
        fd.close();
        ::unlink(partial.c_str());
        throw OutputError(where, partial.string() + ": " + what + ": " + errno_text(err));
    };
    std::size_t done = 0;
    while (done < bytes.size())
    {
        const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
        if (n < 0)
        {
            if (errno == EINTR)
                continue;
            fail("write", errno);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0)
        fail("fsync", errno);
    if (const int err = fd.close(); err != 0)
        fail("close", err);
    try
    {
        rename_into_place(partial, path, where);
    }
    catch (...)
    {
        ::unlink(partial.c_str());
        throw;
    }
}

} // namespace atrous::safe_file
