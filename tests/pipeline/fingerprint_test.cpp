// SPDX-License-Identifier: Apache-2.0
// Purpose: the fingerprint covers a VRT's member files (GDALGetFileList): a changed member changes
// its field; many members fold into one digest.
#include "pipeline/fingerprint.hpp"
#include "stages/read/gdal_error.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gdal.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sys/stat.h>
#include <sys/time.h>

namespace
{

using namespace atrous;
using test::ScratchDir;

void write_tif(const std::filesystem::path& path)
{
    gdal_register_once();
    GDALDatasetH ds =
        GDALCreate(GDALGetDriverByName("GTiff"), path.c_str(), 4, 4, 1, GDT_Byte, nullptr);
    ASSERT_NE(ds, nullptr);
    GDALClose(ds);
}

/// A VRT mosaic of two 4 x 4 GeoTIFFs side by side (sources relative to the VRT).
void write_vrt(const std::filesystem::path& vrt)
{
    std::ofstream f(vrt);
    f << "<VRTDataset rasterXSize=\"8\" rasterYSize=\"4\">\n"
         "  <VRTRasterBand dataType=\"Byte\" band=\"1\">\n";
    for (int i = 0; i < 2; ++i)
        f << "    <SimpleSource>\n"
             "      <SourceFilename relativeToVRT=\"1\">part"
          << i
          << ".tif</SourceFilename>\n"
             "      <SourceBand>1</SourceBand>\n"
             "      <SrcRect xOff=\"0\" yOff=\"0\" xSize=\"4\" ySize=\"4\" />\n"
             "      <DstRect xOff=\""
          << 4 * i
          << "\" yOff=\"0\" xSize=\"4\" ySize=\"4\" />\n"
             "    </SimpleSource>\n";
    f << "  </VRTRasterBand>\n</VRTDataset>\n";
}

std::string field(const Fingerprint& f, const std::string& name)
{
    const auto it =
        std::find_if(f.begin(), f.end(), [&](const auto& kv) { return kv.first == name; });
    return it == f.end() ? std::string("<absent>") : it->second;
}

TEST(Fingerprint, VrtMembersAreListedWithSizeAndTime)
{
    ScratchDir dir;
    write_tif(dir / "part0.tif");
    write_tif(dir / "part1.tif");
    write_vrt(dir / "mosaic.vrt");
    const std::vector<std::string> members = input_member_files((dir / "mosaic.vrt").string());
    const std::string p0 = std::filesystem::canonical(dir / "part0.tif").string();
    const std::string p1 = std::filesystem::canonical(dir / "part1.tif").string();
    EXPECT_EQ(members, (std::vector<std::string>{p0, p1}));

    Fingerprint before;
    add_member_fields(members, max_listed_members, before);
    ASSERT_EQ(before.size(), 2u);
    EXPECT_NE(field(before, "input.member " + p1).find(" bytes, modified "), std::string::npos);

    // A member rewritten (here: only its time changes) changes its field, not the other's.
    const timeval times[2] = {{1000, 0}, {1000, 0}};
    ASSERT_EQ(::utimes(p1.c_str(), times), 0);
    Fingerprint after;
    add_member_fields(members, max_listed_members, after);
    EXPECT_EQ(field(after, "input.member " + p0), field(before, "input.member " + p0));
    EXPECT_NE(field(after, "input.member " + p1), field(before, "input.member " + p1));
    const std::string v = field(after, "input.member " + p1);
    EXPECT_EQ(v.substr(v.find(" bytes")), " bytes, modified 1000.000000000");
    EXPECT_EQ(v.substr(0, v.find(" bytes")), std::to_string(std::filesystem::file_size(p1)));

    // A missing member says so.
    std::filesystem::remove(p0);
    Fingerprint gone;
    add_member_fields(members, max_listed_members, gone);
    EXPECT_EQ(field(gone, "input.member " + p0), "missing");
}

TEST(Fingerprint, ManyMembersFoldIntoOneDigest)
{
    ScratchDir dir;
    write_tif(dir / "part0.tif");
    write_tif(dir / "part1.tif");
    const std::vector<std::string> members{(dir / "part0.tif").string(),
                                           (dir / "part1.tif").string()};
    Fingerprint a;
    add_member_fields(members, 1, a);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].first, "input.members");
    EXPECT_EQ(a[0].second.rfind("2 files, sha256 of their paths, sizes and times ", 0), 0u);
    const timeval times[2] = {{2000, 0}, {2000, 0}};
    ASSERT_EQ(::utimes(members[0].c_str(), times), 0);
    Fingerprint b;
    add_member_fields(members, 1, b);
    EXPECT_NE(a[0].second, b[0].second);
}

TEST(Fingerprint, AGeoTiffAloneHasNoMembers)
{
    ScratchDir dir;
    write_tif(dir / "one.tif");
    EXPECT_TRUE(input_member_files((dir / "one.tif").string()).empty());
    EXPECT_TRUE(input_member_files((dir / "absent.tif").string()).empty());
}

} // namespace
