// SPDX-License-Identifier: Apache-2.0
// Purpose: the one place that decides how atrous creates and replaces files: exclusive creation
// that never follows a link, identity by device + inode, leftovers of killed runs recognised,
// rename-into-place only over regular files. Every file atrous writes goes through it.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace atrous::safe_file
{

/// A file's identity: device and inode (the same file under any spelling, through a symlinked
/// directory or a hard link).
struct FileId
{
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const FileId&) const = default;
};

/// The identity of the file `path` names (links followed); nullopt when nothing is there.
std::optional<FileId> identity(const std::filesystem::path& path);

/// What a name itself holds (lstat: a link is reported as a link, never followed).
struct Entry
{
    enum class Kind
    {
        absent,
        regular,
        directory,
        symlink,
        other, // device, FIFO, socket
    };
    Kind kind = Kind::absent;
    /// "a symbolic link to /etc/passwd", "a FIFO", "a character device", "a directory", ...
    std::string what;
    FileId id;
    nlink_t links = 0;
    off_t size = 0;
};
Entry entry(const std::filesystem::path& path);

/// Throws OutputError(where, "<path>: is <what>; atrous replaces only regular files") unless
/// `path` is absent or a regular file. For the names atrous replaces by rename (the output, the
/// preview, the report).
void require_replaceable(const std::filesystem::path& path, const std::string& where);

/// An open file descriptor, closed on destruction.
class Fd
{
public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    ~Fd();
    Fd(Fd&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
    Fd& operator=(Fd&& other) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return m_fd; }
    /// Closes now; returns the errno of close(2), 0 on success.
    int close();

private:
    int m_fd = -1;
};

/// Creates `path`, which must not exist: open(O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW), mode
/// 0644. Throws OutputError naming the path and what is there ("is a symbolic link to ...") or
/// the errno of open(2).
Fd create_exclusive(const std::filesystem::path& path, const std::string& where);

/// Whether a file at one of atrous' temporary names is a leftover of atrous itself (a killed run),
/// judged by its first bytes.
using Recognizer = std::function<bool(const std::filesystem::path&)>;
/// A recognizer: the file is empty (killed right after creating it) or starts with `magic`.
Recognizer empty_or_starting_with(std::string magic);
/// The signatures of what atrous writes at its temporary names.
inline constexpr std::string_view hdf5_signature{"\x89HDF\r\n\x1a\n", 8};
inline constexpr std::string_view png_signature{"\x89PNG\r\n\x1a\n", 8};

/// Checks a temporary name atrous reserves (e.g. "<output>.packing") before it is created:
/// nothing there, or a leftover: a regular file with one name that `ours` recognises. Anything
/// else (a link, a directory, a device, another program's file) throws OutputError naming it.
void require_free_or_leftover(const std::filesystem::path& path, const Recognizer& ours,
                              const std::string& where);
/// require_free_or_leftover, then removes the leftover: the name is free for create_exclusive.
void clear_leftover(const std::filesystem::path& path, const Recognizer& ours,
                    const std::string& where);

/// rename(2) of `from` (a file atrous made) onto `to`, after require_replaceable(to). Throws
/// OutputError with the errno of the rename itself.
void rename_into_place(const std::filesystem::path& from, const std::filesystem::path& to,
                       const std::string& where);

/// Writes `bytes` to `path` through "<path>.partial" (a leftover there cleared when `ours`
/// recognises it, created exclusively, written, fsynced) and renames it into place. On failure
/// the temporary file is removed and `path` is untouched. Throws OutputError naming the file.
void write_atomically(const std::filesystem::path& path, std::string_view bytes,
                      const Recognizer& ours, const std::string& where);

/// strerror(err) of an errno value captured where the call failed (never a later errno).
std::string errno_text(int err);

} // namespace atrous::safe_file
