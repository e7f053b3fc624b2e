// SPDX-License-Identifier: Apache-2.0
// Purpose: output_guard: a run's created files against the files it reads, by device + inode (a
// symlinked directory, a hard link, a VRT source, the quick look of "in.png"); the side files'
// names checked for links.
#include "pipeline/run/output_guard.hpp"
#include "stages/error.hpp"
#include "stages/read/gdal_error.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gdal.h>
#include <gdal_utils.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

namespace
{

using namespace atrous;
using test::ScratchDir;
namespace fs = std::filesystem;

void write_tif(const fs::path& path, const char* driver = "GTiff")
{
    gdal_register_once();
    GDALDatasetH mem = GDALCreate(GDALGetDriverByName("MEM"), "", 4, 4, 1, GDT_Byte, nullptr);
    ASSERT_NE(mem, nullptr);
    double gt[6] = {500000.0, 1.0, 0.0, 5500000.0, 0.0, -1.0}; // gdalbuildvrt needs one
    GDALSetGeoTransform(mem, gt);
    GDALDatasetH ds = GDALCreateCopy(GDALGetDriverByName(driver), path.c_str(), mem, FALSE, nullptr,
                                     nullptr, nullptr);
    ASSERT_NE(ds, nullptr);
    GDALClose(ds);
    GDALClose(mem);
}

/// The ConfigError message of refuse_overwriting, "" when it accepts.
std::string refusal(const std::vector<NamedFile>& created, const std::vector<NamedFile>& read)
{
    try
    {
        refuse_overwriting(created, read, "output.path");
    }
    catch (const ConfigError& e)
    {
        EXPECT_EQ(e.exit_code(), 2);
        return e.what();
    }
    return "";
}

TEST(OutputGuard, TheInputUnderAnotherSpellingIsRefusedNamingBoth)
{
    ScratchDir dir;
    fs::create_directory(dir / "data");
    write_tif(dir / "data" / "in.tif");
    fs::create_directory_symlink(dir / "data", dir / "alias");
    fs::create_hard_link(dir / "data" / "in.tif", dir / "data" / "hard.tif");
    const auto read = files_read_by_run((dir / "data" / "in.tif").string(), {});
    EXPECT_EQ(refusal(files_created_by_run(dir / "alias" / "in.tif", true), read),
              "output.path: " + (dir / "alias" / "in.tif").string() +
                  " (the output) is the same file as " + (dir / "data" / "in.tif").string() +
                  " (the input); atrous never writes a file it reads: choose another output.path");
    EXPECT_NE(refusal(files_created_by_run(dir / "data" / "hard.tif", true), read), "");
    EXPECT_EQ(refusal(files_created_by_run(dir / "data" / "out.h5", true), read), "");
}

TEST(OutputGuard, VrtSourcesAndTheModelAreFilesTheRunReads)
{
    ScratchDir dir;
    write_tif(dir / "part.tif");
    GDALBuildVRTOptions* o = GDALBuildVRTOptionsNew(nullptr, nullptr);
    const std::string part = (dir / "part.tif").string();
    const char* sources[] = {part.c_str()};
    GDALDatasetH vrt =
        GDALBuildVRT((dir / "m.vrt").string().c_str(), 1, nullptr, sources, o, nullptr);
    GDALBuildVRTOptionsFree(o);
    ASSERT_NE(vrt, nullptr);
    GDALClose(vrt);
    std::ofstream(dir / "model.h5") << "weights";
    const auto read = files_read_by_run((dir / "m.vrt").string(), dir / "model.h5");
    EXPECT_NE(
        refusal(files_created_by_run(dir / "part.tif", false), read).find("(a file of the input)"),
        std::string::npos);
    EXPECT_NE(refusal(files_created_by_run(dir / "model.h5", false), read).find("(the model)"),
              std::string::npos);
}

TEST(OutputGuard, TheQuickLookOfInPngIsTheInputUnlessThereIsNoPreview)
{
    ScratchDir dir;
    write_tif(dir / "in.png", "PNG");
    const auto read = files_read_by_run((dir / "in.png").string(), {});
    const std::string why = refusal(files_created_by_run(dir / "in.h5", true), read);
    EXPECT_NE(why.find("(its quick-look PNG)"), std::string::npos) << why;
    EXPECT_NE(why.find("--no-preview"), std::string::npos) << why;
    EXPECT_EQ(refusal(files_created_by_run(dir / "in.h5", false), read), "");
}

TEST(OutputGuard, SideFilesMustNotBeLinks)
{
    ScratchDir dir;
    std::ofstream(dir / "victim") << "precious";
    fs::create_symlink(dir / "victim", dir / "o.report.json.partial");
    EXPECT_THROW(check_side_files(dir / "o.h5", false), OutputError);
    fs::remove(dir / "o.report.json.partial");
    fs::create_symlink(dir / "victim", dir / "o.png");
    EXPECT_NO_THROW(check_side_files(dir / "o.h5", false)); // no preview: o.png is not ours
    EXPECT_THROW(check_side_files(dir / "o.h5", true), OutputError);
}

} // namespace
