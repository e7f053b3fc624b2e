// SPDX-License-Identifier: Apache-2.0
// Purpose: write.hdf5: datasets, chunks, filters and attributes read back through the HDF5 API;
// .partial until complete; target errors; the file opens in gdalinfo, h5dump and h5py.
#include "stages/error.hpp"
#include "stages/stitch/crop_stitcher.hpp"
#include "stages/write/hdf5_writer.hpp"
#include "stages/write/make_writer.hpp"
#include "tests/stages/read/scratch_dir.hpp"
#include "tests/stages/stitch/stitch_fixture.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace
{

using namespace atrous;
using test::ScratchDir;

constexpr int W = 37;
constexpr int H = 29;
constexpr int T = 16;

const std::array<double, 6> gt{500000.0, 0.5, 0.0, 5500000.0, 0.0, -0.5};

OutputLayout layout(int channels, bool spatial = true)
{
    OutputLayout l;
    l.image_width = W;
    l.image_height = H;
    l.channels = channels;
    l.tile_size = T;
    l.columns = (W + T - 1) / T;
    l.rows = (H + T - 1) / T;
    l.spatial = spatial;
    l.geotransform = gt;
    l.crs_wkt = "PROJCS[\"WGS 84 / UTM zone 33N\"]";
    return l;
}

float prob(int c, int x, int y)
{
    return static_cast<float>(((x * 7 + y * 3 + c * 5) % 11) / 10.0);
}

bool invalid(int x, int y)
{
    return x == 20 && y == 17;
}

/// The crop blocks of the known field for tiles [first, last) (row-major ids).
std::vector<OutputBlock> blocks(int channels, TileId first = 0, TileId last = 6)
{
    const StitchGeometry g = test::grid(W, H, T, 3, channels);
    CropStitcher stitcher(g);
    std::vector<OutputBlock> out;
    for (TileId id = first; id < last; ++id)
    {
        const TileTask t =
            test::tile_task(g, static_cast<int>(id / g.columns), static_cast<int>(id % g.columns));
        Prediction p = test::predict(g, t, prob);
        for (int y = 0; y < t.window.height; ++y)
            for (int x = 0; x < t.window.width; ++x)
                if (invalid(t.window.x + x, t.window.y + y))
                    p.valid[static_cast<std::size_t>(y) * t.window.width + x] = 0;
        out.push_back(stitcher.add(std::move(p)).at(0));
    }
    return out;
}

/// Read-only view of an HDF5 file for the checks.
class H5File
{
public:
    explicit H5File(const std::filesystem::path& path)
        : m_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT))
    {
    }
    ~H5File()
    {
        if (m_id >= 0)
            H5Fclose(m_id);
    }
    hid_t id() const { return m_id; }

    std::vector<hsize_t> dims(const char* name) const
    {
        const hid_t d = H5Dopen2(m_id, name, H5P_DEFAULT);
        const hid_t s = H5Dget_space(d);
        std::vector<hsize_t> out(static_cast<std::size_t>(H5Sget_simple_extent_ndims(s)));
        H5Sget_simple_extent_dims(s, out.data(), nullptr);
        H5Sclose(s);
        H5Dclose(d);
        return out;
    }
    template <typename V> std::vector<V> read(const char* name, hid_t type) const
    {
        std::size_t n = 1;
        for (const hsize_t d : dims(name))
            n *= d;
        std::vector<V> out(n);
        const hid_t d = H5Dopen2(m_id, name, H5P_DEFAULT);
        EXPECT_GE(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), 0) << name;
        H5Dclose(d);
        return out;
    }
    /// Chunk dims and the number of filters of a dataset.
    std::pair<std::vector<hsize_t>, int> storage(const char* name) const
    {
        const hid_t d = H5Dopen2(m_id, name, H5P_DEFAULT);
        const hid_t p = H5Dget_create_plist(d);
        std::vector<hsize_t> chunk(8, 0);
        const int rank = H5Pget_chunk(p, 8, chunk.data());
        chunk.resize(static_cast<std::size_t>(std::max(rank, 0)));
        const int filters = H5Pget_nfilters(p);
        H5Pclose(p);
        H5Dclose(d);
        return {chunk, filters};
    }
    std::string string_attribute(const char* object, const char* name) const
    {
        const hid_t a = H5Aopen_by_name(m_id, object, name, H5P_DEFAULT, H5P_DEFAULT);
        const hid_t t = H5Aget_type(a);
        EXPECT_TRUE(H5Tis_variable_str(t) > 0) << name;
        char* value = nullptr;
        H5Aread(a, t, &value);
        std::string out = value != nullptr ? value : "";
        H5free_memory(value);
        H5Tclose(t);
        H5Aclose(a);
        return out;
    }
    std::vector<double> double_attribute(const char* object, const char* name) const
    {
        const hid_t a = H5Aopen_by_name(m_id, object, name, H5P_DEFAULT, H5P_DEFAULT);
        const hid_t s = H5Aget_space(a);
        std::vector<double> out(static_cast<std::size_t>(H5Sget_simple_extent_npoints(s)));
        H5Aread(a, H5T_NATIVE_DOUBLE, out.data());
        H5Sclose(s);
        H5Aclose(a);
        return out;
    }
    bool exists(const char* name) const { return H5Lexists(m_id, name, H5P_DEFAULT) > 0; }

private:
    hid_t m_id;
};

std::unique_ptr<Hdf5Writer> writer(const std::filesystem::path& path, ProbabilityFormat format,
                                   int channels, bool spatial = true)
{
    WriteOptions o;
    o.path = path;
    o.probabilities = format;
    o.model_sha256 = "abc123";
    o.config_yaml = "output:\n  path: x.h5\n";
    return std::make_unique<Hdf5Writer>(o, layout(channels, spatial));
}

TEST(Hdf5Writer, WritesMaskProbabilitiesProvenanceAndPublishes)
{
    ScratchDir dir;
    const auto path = dir / "out.h5";
    auto w = writer(path, ProbabilityFormat::uint8, 1);
    EXPECT_EQ(w->name(), "write.hdf5");
    w->prepare(RunContext{});
    EXPECT_TRUE(std::filesystem::exists(w->partial_path()));
    for (const OutputBlock& b : blocks(1))
        w->write(b);
    EXPECT_FALSE(std::filesystem::exists(path)) << "published before finish()";
    w->finish(RunContext{});
    EXPECT_TRUE(w->published());
    EXPECT_TRUE(std::filesystem::exists(path));
    EXPECT_FALSE(std::filesystem::exists(w->partial_path()));
    EXPECT_TRUE(w->done_tiles().empty());

    H5File f(path);
    ASSERT_GE(f.id(), 0);
    EXPECT_EQ(f.dims("mask"), (std::vector<hsize_t>{H, W}));
    EXPECT_EQ(f.dims("probability"), (std::vector<hsize_t>{1, H, W}));
    const auto mask = f.read<std::uint8_t>("mask", H5T_NATIVE_UINT8);
    const auto p8 = f.read<std::uint8_t>("probability", H5T_NATIVE_UINT8);
    for (int y = 0; y < H; ++y)
    {
        for (int x = 0; x < W; ++x)
        {
            const std::size_t i = static_cast<std::size_t>(y) * W + x;
            const float p = prob(0, x, y);
            ASSERT_EQ(mask[i], invalid(x, y) ? 255 : (p >= 0.5f ? 1 : 0)) << x << "," << y;
            ASSERT_EQ(p8[i], invalid(x, y) ? 255 : std::lround(p * 254.0f)) << x << "," << y;
        }
    }
    EXPECT_EQ(f.storage("mask"), (std::pair<std::vector<hsize_t>, int>{{16, 16}, 2}));
    EXPECT_EQ(f.storage("probability"), (std::pair<std::vector<hsize_t>, int>{{1, 16, 16}, 2}));
    EXPECT_EQ(f.double_attribute("/", "geotransform"), std::vector<double>(gt.begin(), gt.end()));
    EXPECT_EQ(f.string_attribute("/", "crs_wkt"), "PROJCS[\"WGS 84 / UTM zone 33N\"]");
    EXPECT_EQ(f.string_attribute("/", "atrous_version"), ATROUS_VERSION);
    EXPECT_EQ(f.string_attribute("/", "model_sha256"), "abc123");
    EXPECT_EQ(f.string_attribute("/", "config_yaml"), "output:\n  path: x.h5\n");
    EXPECT_EQ(f.double_attribute("/probability", "scale_factor"), std::vector<double>{1.0 / 254.0});
    EXPECT_EQ(f.double_attribute("/mask", "_FillValue"), std::vector<double>{255.0});
    EXPECT_EQ(f.double_attribute("/mask", "threshold"), std::vector<double>{0.5});
    EXPECT_EQ(f.read<std::uint8_t>("progress/tile_done", H5T_NATIVE_UINT8),
              std::vector<std::uint8_t>(6, 1));
}

TEST(Hdf5Writer, MulticlassArgmaxFloatProbabilitiesUncompressed)
{
    ScratchDir dir;
    const auto path = dir / "multi.h5";
    WriteOptions o;
    o.path = path;
    o.probabilities = ProbabilityFormat::float32;
    o.compression = "none";
    auto w = make_hdf5_writer(o, layout(3));
    w->prepare(RunContext{});
    for (const OutputBlock& b : blocks(3))
        w->write(b);
    w->finish(RunContext{});

    H5File f(path);
    const auto mask = f.read<std::uint8_t>("mask", H5T_NATIVE_UINT8);
    const auto p = f.read<float>("probability", H5T_NATIVE_FLOAT);
    const std::size_t plane = static_cast<std::size_t>(W) * H;
    for (int y = 0; y < H; ++y)
    {
        for (int x = 0; x < W; ++x)
        {
            const std::size_t i = static_cast<std::size_t>(y) * W + x;
            int best = 0;
            for (int c = 1; c < 3; ++c)
                if (prob(c, x, y) > prob(best, x, y))
                    best = c;
            ASSERT_EQ(mask[i], invalid(x, y) ? 255 : best) << x << "," << y;
            for (int c = 0; c < 3; ++c)
            {
                if (invalid(x, y))
                    ASSERT_TRUE(std::isnan(p[c * plane + i]));
                else
                    ASSERT_EQ(p[c * plane + i], prob(c, x, y));
            }
        }
    }
    EXPECT_EQ(f.storage("mask").second, 0);
    EXPECT_FALSE(f.exists("class"));
}

TEST(Hdf5Writer, IncompleteRunStaysPartialWithProgress)
{
    ScratchDir dir;
    const auto path = dir / "part.h5";
    auto w = writer(path, ProbabilityFormat::none, 1);
    w->prepare(RunContext{});
    for (const OutputBlock& b : blocks(1, 0, 4))
        w->write(b);
    EXPECT_EQ(w->tiles_written(), 4);
    w->finish(RunContext{});
    EXPECT_FALSE(w->published());
    EXPECT_FALSE(std::filesystem::exists(path));
    ASSERT_TRUE(std::filesystem::exists(w->partial_path()));

    H5File f(w->partial_path());
    EXPECT_FALSE(f.exists("probability"));
    EXPECT_EQ(f.read<std::uint8_t>("progress/tile_done", H5T_NATIVE_UINT8),
              (std::vector<std::uint8_t>{1, 1, 1, 1, 0, 0}));
    // Tiles 4 and 5 (row 1, columns 1..2) were never written: nodata.
    const auto mask = f.read<std::uint8_t>("mask", H5T_NATIVE_UINT8);
    EXPECT_EQ(mask[static_cast<std::size_t>(20) * W + 20], 255);
    EXPECT_NE(mask[static_cast<std::size_t>(20) * W + 5], 255);
}

TEST(Hdf5Writer, KilledRunLeavesOnlyThePartialFile)
{
    ScratchDir dir;
    const auto path = dir / "killed.h5";
    {
        auto w = writer(path, ProbabilityFormat::none, 1);
        w->prepare(RunContext{});
        for (const OutputBlock& b : blocks(1))
            w->write(b);
        // destroyed without finish(), as on an exception
    }
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_TRUE(std::filesystem::exists(dir / "killed.h5.partial"));
}

/// tile_done of a partial file left by a writer destroyed without finish() (as by a kill).
std::vector<std::uint8_t> marks_after_kill(const std::filesystem::path& path, double interval,
                                           long long& commits, long long& written)
{
    WriteOptions o;
    o.path = path;
    o.sync_interval_s = interval;
    {
        Hdf5Writer w(o, layout(1));
        w.prepare(RunContext{});
        for (const OutputBlock& b : blocks(1, 0, 4))
            w.write(b);
        commits = w.commits();
        written = w.tiles_written();
        EXPECT_GE(w.progress_seconds(), 0.0);
    }
    H5File f(std::filesystem::path(path.string() + ".partial"));
    return f.read<std::uint8_t>("progress/tile_done", H5T_NATIVE_UINT8);
}

TEST(Hdf5Writer, TilesAreMarkedOnlyByACommitAfterTheirDataIsSynced)
{
    ScratchDir dir;
    long long commits = 0, written = 0;
    // Interval 0: every block is fsynced, then marked, at once.
    EXPECT_EQ(marks_after_kill(dir / "each.h5", 0.0, commits, written),
              (std::vector<std::uint8_t>{1, 1, 1, 1, 0, 0}));
    EXPECT_EQ(commits, 4);
    EXPECT_EQ(written, 4);
    // A long interval: the data is written but no commit came, so nothing is marked; a resumed
    // run computes those tiles again.
    EXPECT_EQ(marks_after_kill(dir / "batched.h5", 1e9, commits, written),
              (std::vector<std::uint8_t>(6, 0)));
    EXPECT_EQ(commits, 0);
    EXPECT_EQ(written, 4); // written, waiting for the commit
}

TEST(Hdf5Writer, FinishCommitsTheLastBatch)
{
    ScratchDir dir;
    WriteOptions o;
    o.path = dir / "last.h5";
    o.sync_interval_s = 1e9;
    Hdf5Writer w(o, layout(1));
    w.prepare(RunContext{});
    for (const OutputBlock& b : blocks(1, 0, 5))
        w.write(b);
    EXPECT_EQ(w.commits(), 0);
    w.finish(RunContext{});
    EXPECT_EQ(w.commits(), 1); // one fsync for the five tiles
    EXPECT_GT(w.progress_seconds(), 0.0);
    H5File f(w.partial_path());
    EXPECT_EQ(f.read<std::uint8_t>("progress/tile_done", H5T_NATIVE_UINT8),
              (std::vector<std::uint8_t>{1, 1, 1, 1, 1, 0}));
}

TEST(Hdf5Writer, ClassifierGrid)
{
    ScratchDir dir;
    const auto path = dir / "cls.h5";
    auto w = writer(path, ProbabilityFormat::float32, 2, false);
    w->prepare(RunContext{});
    for (int row = 0; row < 2; ++row)
    {
        for (int col = 0; col < 3; ++col)
        {
            OutputBlock b;
            b.region = {col, row, 1, 1};
            b.channels = 2;
            b.probabilities = {0.1f * col, 0.5f};
            b.valid = {static_cast<std::uint8_t>(row == 1 && col == 2 ? 0 : 1)};
            b.tiles = {row * 3 + col};
            w->write(b);
        }
    }
    w->finish(RunContext{});
    H5File f(path);
    EXPECT_FALSE(f.exists("mask"));
    EXPECT_EQ(f.dims("class"), (std::vector<hsize_t>{2, 3}));
    EXPECT_EQ(f.dims("class_probability"), (std::vector<hsize_t>{2, 2, 3}));
    EXPECT_EQ(f.read<std::uint8_t>("class", H5T_NATIVE_UINT8),
              (std::vector<std::uint8_t>{1, 1, 1, 1, 1, 255}));
    EXPECT_EQ(f.double_attribute("/class", "geotransform"),
              (std::vector<double>{500000.0, 8.0, 0.0, 5500000.0, 0.0, -8.0}));
}

std::string output_error(Hdf5Writer& w)
{
    try
    {
        w.prepare(RunContext{});
    }
    catch (const OutputError& e)
    {
        return e.what();
    }
    return "no OutputError";
}

TEST(Hdf5Writer, NotWritableDirectoryFailsInPrepare)
{
    ScratchDir dir;
    std::filesystem::path target = dir / "ro";
    std::filesystem::create_directory(target);
    std::filesystem::permissions(target, std::filesystem::perms::owner_read |
                                             std::filesystem::perms::owner_exec);
    if (std::ofstream(target / "probe").good())
        target = "/sys"; // running as root: permissions do not bind; sysfs refuses new files
    auto w = writer(target / "out.h5", ProbabilityFormat::none, 1);
    const std::string message = output_error(*w);
    EXPECT_EQ(message.rfind("write.hdf5: " + target.string() + ": not writable (", 0), 0u)
        << message;
}

TEST(Hdf5Writer, TargetErrorsNameTheCulprit)
{
    ScratchDir dir;
    std::filesystem::create_directory(dir / "taken.h5");
    auto is_dir = writer(dir / "taken.h5", ProbabilityFormat::none, 1);
    EXPECT_EQ(output_error(*is_dir),
              "write.hdf5: " + (dir / "taken.h5").string() + ": is a directory");
    auto missing = writer(dir / "nope" / "out.h5", ProbabilityFormat::none, 1);
    EXPECT_EQ(output_error(*missing),
              "write.hdf5: " + (dir / "nope").string() + ": no such directory");

    WriteOptions o;
    o.path = dir / "x.h5";
    o.compression = "lzf";
    Hdf5Writer bad(o, layout(1));
    try
    {
        bad.prepare(RunContext{});
        FAIL() << "no ConfigError";
    }
    catch (const ConfigError& e)
    {
        EXPECT_STREQ(e.what(),
                     "write.hdf5: output.compression: 'lzf' given, 'deflate' or 'none' expected");
    }
}

std::string text_of(const std::filesystem::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(Hdf5Writer, PlantedLinksAndForeignTemporaryFilesAreRefusedInPrepare)
{
    ScratchDir dir;
    std::ofstream(dir / "victim") << "precious";
    for (const char* suffix : {".packing", ".partial.new", ".partial", ".lock", ""})
    {
        const auto link = dir / (std::string("out.h5") + suffix);
        std::filesystem::create_symlink(dir / "victim", link);
        const std::string message =
            output_error(*writer(dir / "out.h5", ProbabilityFormat::none, 1));
        EXPECT_NE(
            message.find(link.string() + ": is a symbolic link to " + (dir / "victim").string()),
            std::string::npos)
            << message;
        EXPECT_EQ(text_of(dir / "victim"), "precious") << suffix;
        EXPECT_TRUE(std::filesystem::is_symlink(link));
        std::filesystem::remove(link);
    }
    // Another program's file at a temporary name: kept.
    std::ofstream(dir / "out.h5.packing") << "notes";
    auto w = writer(dir / "out.h5", ProbabilityFormat::none, 1);
    EXPECT_NE(output_error(*w).find("not a file atrous left"), std::string::npos);
    EXPECT_EQ(text_of(dir / "out.h5.packing"), "notes");
    EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.partial"));
}

TEST(Hdf5Writer, AnExistingOutputIsReplacedOnlyWhenAtrousOrForced)
{
    ScratchDir dir;
    const auto path = dir / "out.h5";
    std::ofstream(path) << "a GeoTIFF, say";
    // (Each writer in a scope: a writer holds the output's lock until it is destroyed.)
    const std::string message = output_error(*writer(path, ProbabilityFormat::none, 1));
    EXPECT_NE(message.find(path.string() + ": exists and is not an atrous output ("),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("--force"), std::string::npos) << message;
    EXPECT_EQ(text_of(path), "a GeoTIFF, say");

    WriteOptions o;
    o.path = path;
    o.force = true;
    {
        Hdf5Writer forced(o, layout(1));
        forced.prepare(RunContext{});
        for (const OutputBlock& b : blocks(1))
            forced.write(b);
        forced.finish(RunContext{});
        EXPECT_TRUE(forced.published());
    }
    EXPECT_GE(H5File(path).id(), 0);

    // An atrous output of another run: --restart (options.restart) replaces it.
    o.force = false;
    o.threshold = 0.25;
    o.fingerprint = {{"config.output.threshold", "0.25"}};
    {
        Hdf5Writer other(o, layout(1));
        EXPECT_NE(output_error(other).find("an atrous output of a different run"),
                  std::string::npos);
    }
    o.restart = true;
    {
        Hdf5Writer restarted(o, layout(1));
        EXPECT_NO_THROW(restarted.prepare(RunContext{}));
    }

    // Never a FIFO or a device, even forced.
    ASSERT_EQ(::mkfifo((dir / "fifo.h5").c_str(), 0600), 0);
    o.path = dir / "fifo.h5";
    o.force = true;
    Hdf5Writer fifo(o, layout(1));
    EXPECT_NE(output_error(fifo).find("is a FIFO"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(dir / "fifo.h5.lock"));
}

TEST(Hdf5Writer, RejectsABlockOutsideTheImage)
{
    ScratchDir dir;
    auto w = writer(dir / "o.h5", ProbabilityFormat::none, 1);
    w->prepare(RunContext{});
    OutputBlock b;
    b.region = {30, 20, 10, 10};
    b.channels = 1;
    b.probabilities.assign(100, 0.0f);
    b.valid.assign(100, 1);
    EXPECT_THROW(w->write(b), Error);
}

/// Runs a shell command, returns its exit status and output.
std::pair<int, std::string> shell(const std::string& command)
{
    std::string output;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr)
        return {-1, ""};
    char buffer[4096];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr)
        output += buffer;
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(Hdf5Writer, OpensInGdalinfoH5dumpAndH5py)
{
    if (shell("command -v gdalinfo").first != 0 || shell("command -v h5dump").first != 0)
        GTEST_SKIP() << "gdalinfo or h5dump not installed";
    ScratchDir dir;
    const auto path = dir / "tools.h5";
    auto w = writer(path, ProbabilityFormat::uint8, 1);
    w->prepare(RunContext{});
    for (const OutputBlock& b : blocks(1))
        w->write(b);
    w->finish(RunContext{});

    const auto [gdal_rc, gdal_out] =
        shell("gdalinfo -stats 'HDF5:\"" + path.string() + "\"://mask'");
    EXPECT_EQ(gdal_rc, 0) << gdal_out;
    EXPECT_NE(gdal_out.find("Size is 37, 29"), std::string::npos) << gdal_out;
    EXPECT_NE(gdal_out.find("Type=Byte"), std::string::npos) << gdal_out;

    const auto [dump_rc, dump_out] = shell("h5dump -H '" + path.string() + "'");
    EXPECT_EQ(dump_rc, 0) << dump_out;
    EXPECT_NE(dump_out.find("DATASET \"mask\""), std::string::npos) << dump_out;

    if (shell("/usr/bin/python3 -c 'import h5py'").first != 0)
        GTEST_SKIP() << "h5py not installed for /usr/bin/python3";
    const auto [py_rc, py_out] =
        shell("/usr/bin/python3 -c 'import h5py,sys; f=h5py.File(sys.argv[1],\"r\"); "
              "print(f[\"mask\"].shape, f[\"probability\"].dtype, f.attrs[\"crs_wkt\"][:6], "
              "int(f[\"mask\"][17,20]))' '" +
              path.string() + "'");
    EXPECT_EQ(py_rc, 0) << py_out;
    EXPECT_EQ(py_out, "(29, 37) uint8 PROJCS 255\n");
}

} // namespace
