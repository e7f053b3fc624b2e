// SPDX-License-Identifier: Apache-2.0
// Purpose: the fingerprint covers a VRT's member files (GDALGetFileList): a changed member changes
// its field; many members fold into one digest; a sample of each file's bytes catches a rewrite
// that keeps size and time.
#include "pipeline/run/fingerprint.hpp"
#include "stages/read/gdal_error.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <cpl_vsi.h>
#include <gdal.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <numeric>
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

TEST(Fingerprint, SampleRangesSpanTheFile)
{
    const std::size_t r = sample_range_bytes;
    // Small: the whole file, one range.
    EXPECT_EQ(sample_ranges(100, 8),
              (std::vector<std::pair<std::uint64_t, std::size_t>>{{0, 100}}));
    EXPECT_EQ(sample_ranges(8 * r, 8).size(), 1u);
    // Large: `count` ranges, the first at 0, the last ending at the end, evenly spaced, disjoint.
    for (const std::uint64_t size :
         {std::uint64_t{8 * r + 1}, std::uint64_t{1} << 40, std::uint64_t{123456789}})
    {
        const auto ranges = sample_ranges(size, 8);
        ASSERT_EQ(ranges.size(), 8u) << size;
        EXPECT_EQ(ranges.front().first, 0u);
        EXPECT_EQ(ranges.back().first + ranges.back().second, size);
        for (std::size_t i = 1; i < ranges.size(); ++i)
            EXPECT_GE(ranges[i].first, ranges[i - 1].first + ranges[i - 1].second) << size;
        for (std::size_t i = 0; i + 1 < ranges.size(); ++i)
            EXPECT_EQ(ranges[i].first % r, 0u) << size; // whole /vsicurl/ chunks
        // Evenly spread: range i starts within one range of i / 7 of the way to size - r.
        for (std::size_t i = 0; i < ranges.size(); ++i)
        {
            const double even = static_cast<double>(size - r) * static_cast<double>(i) / 7.0;
            EXPECT_NEAR(static_cast<double>(ranges[i].first), even, static_cast<double>(r))
                << size << " range " << i;
        }
        const std::uint64_t total =
            std::accumulate(ranges.begin(), ranges.end(), std::uint64_t{0},
                            [](std::uint64_t t, const auto& range) { return t + range.second; });
        EXPECT_EQ(total, 8 * r);
    }
}

void write_vsimem(const std::string& name, const std::vector<char>& bytes)
{
    gdal_register_once();
    VSILFILE* f = VSIFOpenL(name.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(VSIFWriteL(bytes.data(), 1, bytes.size(), f), bytes.size());
    VSIFCloseL(f);
}

TEST(Fingerprint, ContentSampleSeesAChangedByteInASampledRange)
{
    const std::string name = "/vsimem/fingerprint_test/big.bin";
    std::vector<char> bytes(3 * 1024 * 1024);
    std::iota(bytes.begin(), bytes.end(), char{0});
    write_vsimem(name, bytes);
    const std::string a = content_sample(name, 64);
    EXPECT_EQ(a.size(), 64u);
    EXPECT_EQ(content_sample(name, 64), a); // deterministic
    // The same size, one byte changed in the last range: another digest.
    bytes[bytes.size() - 1] ^= 1;
    write_vsimem(name, bytes);
    const std::string b = content_sample(name, 64);
    EXPECT_NE(b, a);
    // A byte between two ranges is not seen (a sample, not a hash of everything).
    const auto ranges = sample_ranges(bytes.size(), 64);
    bytes[ranges[0].second + 1] ^= 1;
    write_vsimem(name, bytes);
    EXPECT_EQ(content_sample(name, 64), b);
    VSIUnlink(name.c_str());
    EXPECT_EQ(content_sample(name, 64), "not a file");
    write_vsimem(name, {});
    EXPECT_EQ(content_sample(name, 64).size(), 64u); // an empty file has a digest too
    VSIUnlink(name.c_str());
}

TEST(Fingerprint, ArchiveMembersAreSampledInTheirArchive)
{
    ScratchDir dir;
    write_tif(dir / "in.tif");
    const std::string zip = (dir / "a.zip").string();
    {
        // A zip holding in.tif, written through GDAL's /vsizip/ writer.
        VSILFILE* out = VSIFOpenL(("/vsizip/" + zip + "/in.tif").c_str(), "wb");
        ASSERT_NE(out, nullptr);
        std::ifstream in(dir / "in.tif", std::ios::binary);
        const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
        ASSERT_EQ(VSIFWriteL(bytes.data(), 1, bytes.size(), out), bytes.size());
        VSIFCloseL(out);
    }
    EXPECT_EQ(content_sample("/vsizip/" + zip + "/in.tif", 4), content_sample(zip, 4));
    EXPECT_EQ(content_sample("/vsizip/{" + zip + "}/in.tif", 4), content_sample(zip, 4));
    EXPECT_EQ(content_sample("/vsigzip/" + zip, 4), content_sample(zip, 4));
    EXPECT_NE(content_sample(zip, 4), "not a file");
}

TEST(Fingerprint, SampleFieldsNameEachFile)
{
    ScratchDir dir;
    write_tif(dir / "part0.tif");
    write_tif(dir / "part1.tif");
    write_vrt(dir / "mosaic.vrt");
    const std::string vrt = (dir / "mosaic.vrt").string();
    const std::vector<std::string> members = input_member_files(vrt);
    ASSERT_EQ(members.size(), 2u);
    Fingerprint f;
    add_sample_fields(vrt, members, max_listed_members, f);
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[0].first, "input.sample " + vrt);
    EXPECT_EQ(f[1].first, "input.sample " + members[0]);
    EXPECT_EQ(f[2].first, "input.sample " + members[1]);
    EXPECT_EQ(f[1].second, f[2].second); // the same bytes
    // Above the listed limit: the input's field and one digest over the members.
    Fingerprint folded;
    add_sample_fields(vrt, members, 1, folded);
    ASSERT_EQ(folded.size(), 2u);
    EXPECT_EQ(folded[0], f[0]);
    EXPECT_EQ(folded[1].first, "input.members.sample");
    // A member rewritten with another pixel (same size): its field changes, the other's not.
    GDALDatasetH ds = GDALOpen(members[1].c_str(), GA_Update);
    ASSERT_NE(ds, nullptr);
    GByte pixel = 7;
    ASSERT_EQ(
        GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Write, 0, 0, 1, 1, &pixel, 1, 1, GDT_Byte, 0, 0),
        CE_None);
    GDALClose(ds);
    Fingerprint after;
    add_sample_fields(vrt, members, max_listed_members, after);
    EXPECT_EQ(after[1], f[1]);
    EXPECT_NE(after[2].second, f[2].second);
    Fingerprint folded_after;
    add_sample_fields(vrt, members, 1, folded_after);
    EXPECT_NE(folded_after[1].second, folded[1].second);
}

} // namespace
