// SPDX-License-Identifier: Apache-2.0
// Purpose: safe_file: exclusive creation never follows a planted link (the target's bytes stay),
// identity by device + inode through links, leftovers recognised, other files refused, renames
// only over regular files with the real errno, atomic writes.
#include "stages/error.hpp"
#include "stages/write/safe_file.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace atrous
{
namespace
{

namespace fs = std::filesystem;
using test::ScratchDir;

void put(const fs::path& p, const std::string& text)
{
    std::ofstream(p, std::ios::binary) << text;
}

std::string get(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// The OutputError message of f(), or "" when it throws nothing.
template <typename F> std::string output_error(F&& f)
{
    try
    {
        f();
    }
    catch (const OutputError& e)
    {
        EXPECT_EQ(e.exit_code(), 5);
        return e.what();
    }
    return "";
}

const safe_file::Recognizer hdf5 =
    safe_file::empty_or_starting_with(std::string(safe_file::hdf5_signature));

TEST(SafeFile, CreateExclusiveRefusesAPlantedLinkAndLeavesItsTargetAlone)
{
    ScratchDir dir;
    put(dir / "victim", "precious");
    fs::create_symlink(dir / "victim", dir / "x.partial");
    const std::string what =
        output_error([&] { safe_file::create_exclusive(dir / "x.partial", "w"); });
    EXPECT_EQ(what, "w: " + (dir / "x.partial").string() + ": is a symbolic link to " +
                        (dir / "victim").string() +
                        "; atrous never writes through a link (remove it)");
    EXPECT_EQ(get(dir / "victim"), "precious");
    // A dangling link is refused too (O_EXCL: no file is created at its target).
    fs::create_symlink(dir / "nothing", dir / "y.partial");
    EXPECT_NE(output_error([&] { safe_file::create_exclusive(dir / "y.partial", "w"); }), "");
    EXPECT_FALSE(fs::exists(dir / "nothing"));
    // A regular file is not replaced either.
    put(dir / "z", "theirs");
    EXPECT_NE(output_error([&] { safe_file::create_exclusive(dir / "z", "w"); }).find("exists"),
              std::string::npos);
    EXPECT_EQ(get(dir / "z"), "theirs");
    safe_file::Fd fd = safe_file::create_exclusive(dir / "new", "w");
    EXPECT_GE(fd.get(), 0);
    EXPECT_TRUE(fs::is_regular_file(dir / "new"));
}

TEST(SafeFile, IdentityIsDeviceAndInodeUnderAnySpelling)
{
    ScratchDir dir;
    fs::create_directory(dir / "data");
    put(dir / "data" / "in.tif", "pixels");
    fs::create_directory_symlink(dir / "data", dir / "alias");
    fs::create_hard_link(dir / "data" / "in.tif", dir / "data" / "hard.tif");
    const auto id = safe_file::identity(dir / "data" / "in.tif");
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(safe_file::identity(dir / "alias" / "in.tif"), id);
    EXPECT_EQ(safe_file::identity(dir / "data" / "hard.tif"), id);
    EXPECT_EQ(safe_file::identity(dir / "alias" / ".." / "data" / "in.tif"), id);
    put(dir / "data" / "other.tif", "pixels");
    EXPECT_NE(safe_file::identity(dir / "data" / "other.tif"), id);
    EXPECT_FALSE(safe_file::identity(dir / "nothing").has_value());
}

TEST(SafeFile, EntryDescribesWhatANameHoldsWithoutFollowingLinks)
{
    ScratchDir dir;
    using Kind = safe_file::Entry::Kind;
    EXPECT_EQ(safe_file::entry(dir / "none").kind, Kind::absent);
    put(dir / "f", "x");
    EXPECT_EQ(safe_file::entry(dir / "f").kind, Kind::regular);
    fs::create_symlink(dir / "f", dir / "l");
    EXPECT_EQ(safe_file::entry(dir / "l").kind, Kind::symlink);
    EXPECT_EQ(safe_file::entry(dir / "l").what, "a symbolic link to " + (dir / "f").string());
    ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
    EXPECT_EQ(safe_file::entry(dir / "fifo").kind, Kind::other);
    EXPECT_EQ(safe_file::entry(dir / "fifo").what, "a FIFO");
    EXPECT_EQ(safe_file::entry("/dev/null").what, "a character device");
    EXPECT_EQ(safe_file::entry(dir.path()).kind, Kind::directory);
}

TEST(SafeFile, ReplaceableOnlyWhenAbsentOrRegular)
{
    ScratchDir dir;
    EXPECT_EQ(output_error([&] { safe_file::require_replaceable(dir / "none", "w"); }), "");
    put(dir / "f", "x");
    EXPECT_EQ(output_error([&] { safe_file::require_replaceable(dir / "f", "w"); }), "");
    EXPECT_EQ(output_error([&] { safe_file::require_replaceable("/dev/null", "w"); }),
              "w: /dev/null: is a character device; atrous replaces only regular files (never a "
              "link, directory, device, FIFO or socket)");
    fs::create_symlink(dir / "f", dir / "l");
    EXPECT_NE(output_error([&] { safe_file::require_replaceable(dir / "l", "w"); }), "");
    ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
    EXPECT_NE(output_error([&] { safe_file::require_replaceable(dir / "fifo", "w"); }), "");
}

TEST(SafeFile, LeftoversOfAtrousAreClearedOtherFilesAreRefused)
{
    ScratchDir dir;
    // Empty (killed right after creation) or HDF5: atrous' own leftover.
    put(dir / "empty.packing", "");
    safe_file::clear_leftover(dir / "empty.packing", hdf5, "w");
    EXPECT_FALSE(fs::exists(dir / "empty.packing"));
    put(dir / "h5.packing", std::string(safe_file::hdf5_signature) + "rest of a file");
    safe_file::clear_leftover(dir / "h5.packing", hdf5, "w");
    EXPECT_FALSE(fs::exists(dir / "h5.packing"));
    // Anything else stays, and is named.
    put(dir / "text.packing", "someone's notes");
    const std::string what =
        output_error([&] { safe_file::clear_leftover(dir / "text.packing", hdf5, "w"); });
    EXPECT_EQ(what, "w: " + (dir / "text.packing").string() +
                        ": exists and is not a file atrous left (unknown content); atrous does not "
                        "replace it (remove it)");
    EXPECT_EQ(get(dir / "text.packing"), "someone's notes");
    // An HDF5 file with a second name (a hard link) is not atrous' to remove.
    put(dir / "theirs.h5", std::string(safe_file::hdf5_signature));
    fs::create_hard_link(dir / "theirs.h5", dir / "linked.packing");
    EXPECT_NE(output_error([&] { safe_file::clear_leftover(dir / "linked.packing", hdf5, "w"); })
                  .find("2 hard links"),
              std::string::npos);
    EXPECT_TRUE(fs::exists(dir / "linked.packing"));
    // A link to a leftover-looking file: refused, the link and its target kept.
    fs::create_symlink(dir / "theirs.h5", dir / "link.packing");
    EXPECT_NE(output_error([&] { safe_file::clear_leftover(dir / "link.packing", hdf5, "w"); })
                  .find("symbolic link"),
              std::string::npos);
    EXPECT_TRUE(fs::is_symlink(dir / "link.packing"));
    EXPECT_EQ(get(dir / "theirs.h5"), std::string(safe_file::hdf5_signature));
    // Nothing there: nothing to do.
    safe_file::clear_leftover(dir / "none.packing", hdf5, "w");
}

TEST(SafeFile, RenameIntoPlaceOnlyOverRegularFilesAndSaysTheRealErrno)
{
    ScratchDir dir;
    put(dir / "a.new", "new");
    put(dir / "a", "old");
    safe_file::rename_into_place(dir / "a.new", dir / "a", "w");
    EXPECT_EQ(get(dir / "a"), "new");
    // The failing rename's own errno, never a stale one ("cannot rename: Success").
    const std::string what =
        output_error([&] { safe_file::rename_into_place(dir / "gone", dir / "b", "w"); });
    EXPECT_EQ(what, "w: " + (dir / "gone").string() + ": cannot rename to " + (dir / "b").string() +
                        ": No such file or directory");
    // Over a link: refused, the target untouched.
    put(dir / "victim", "precious");
    fs::create_symlink(dir / "victim", dir / "c");
    put(dir / "c.new", "new");
    EXPECT_NE(output_error([&] { safe_file::rename_into_place(dir / "c.new", dir / "c", "w"); }),
              "");
    EXPECT_TRUE(fs::is_symlink(dir / "c"));
    EXPECT_EQ(get(dir / "victim"), "precious");
}

TEST(SafeFile, WriteAtomicallyReplacesARegularFileAndNeverALinkOrDevice)
{
    ScratchDir dir;
    const auto json = safe_file::empty_or_starting_with("{");
    safe_file::write_atomically(dir / "r.json", "{\"a\": 1}\n", json, "report");
    EXPECT_EQ(get(dir / "r.json"), "{\"a\": 1}\n");
    safe_file::write_atomically(dir / "r.json", "{}\n", json, "report");
    EXPECT_EQ(get(dir / "r.json"), "{}\n");
    EXPECT_FALSE(fs::exists(dir / "r.json.partial"));
    // A leftover "<path>.partial" of atrous is replaced; a planted link there is refused.
    put(dir / "r.json.partial", "{\"half");
    safe_file::write_atomically(dir / "r.json", "{}\n", json, "report");
    put(dir / "victim", "precious");
    fs::create_symlink(dir / "victim", dir / "r.json.partial");
    EXPECT_NE(
        output_error([&] { safe_file::write_atomically(dir / "r.json", "{}\n", json, "report"); })
            .find("symbolic link"),
        std::string::npos);
    EXPECT_EQ(get(dir / "victim"), "precious");
    fs::remove(dir / "r.json.partial");
    // The final name a link: refused before anything is written.
    fs::remove(dir / "r.json");
    fs::create_symlink(dir / "victim", dir / "r.json");
    EXPECT_NE(
        output_error([&] { safe_file::write_atomically(dir / "r.json", "{}\n", json, "report"); }),
        "");
    EXPECT_EQ(get(dir / "victim"), "precious");
    EXPECT_FALSE(fs::exists(dir / "r.json.partial"));
}

} // namespace
} // namespace atrous
