// SPDX-License-Identifier: Apache-2.0
// Purpose: tests of the run configuration: every key, error messages naming file:line and key,
// --set overrides, relative paths, and the key table against the README and configs/.
#include "pipeline/config/config.hpp"
#include "stages/error.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <unistd.h>

namespace atrous
{
namespace
{

namespace fs = std::filesystem;

const fs::path source_dir = fs::path(ATROUS_FIXTURES_DIR).parent_path().parent_path();

std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {})
{
    try
    {
        parse_config(yaml, "run.yaml", "/data", overrides);
    }
    catch (const ConfigError& e)
    {
        return e.what();
    }
    return "(no ConfigError)";
}

const std::string minimal = R"(input:
  path: scene.tif
model:
  weights: unet.h5
output:
  path: out/mask.h5
)";

// Six lines each, ending in the section the test appends keys to (line 7 on).
const std::string open_input = "model:\n  weights: w.h5\noutput:\n  path: o.h5\ninput:\n  path: "
                               "a.tif\n";
const std::string open_model = "input:\n  path: a.tif\noutput:\n  path: o.h5\nmodel:\n  weights: "
                               "w.h5\n";

TEST(Config, ParsesEveryKey)
{
    const std::string yaml = R"(# every key
input:
  path: scene.tif
  bands: [3, 1, 2]
  normalize:
    mean: [10, 20, 30]
    std: 2
  nodata: -9999
model:
  weights: /models/unet.h5
  architecture:
    type: unet
    filters: 16
    depth: 4
    dilation: [1, 1, 2, 4]
    separable: true
    in_channels: 3
    classes: 2
    dropout: 0.25
tile:
  size: 128
  halo: 40
  stitch: blend
output:
  path: out/mask.h5
  probabilities: uint8
  threshold: 0.7
  compression: none
  compression_level: 9
runtime:
  threads: 3
)";
    // A machine with CPUs to spare: the request is not cut (UsableCpusTest covers the cut).
    const UsableCpus cpus{64, ""};
    const RunConfig c = parse_config(yaml, "run.yaml", "/data", {}, nullptr, &cpus);
    EXPECT_EQ(c.input.path, fs::path("/data/scene.tif"));
    EXPECT_EQ(c.input.bands, (std::vector<int>{3, 1, 2}));
    ASSERT_EQ(c.input.normalize.size(), 3u);
    EXPECT_DOUBLE_EQ(c.input.normalize[1].scale, 0.5);
    EXPECT_DOUBLE_EQ(c.input.normalize[1].offset, -10.0);
    EXPECT_DOUBLE_EQ(c.input.normalize[2].offset, -15.0);
    EXPECT_EQ(c.input.nodata, -9999.0);
    EXPECT_EQ(c.model.weights, fs::path("/models/unet.h5"));
    ASSERT_TRUE(c.model.architecture);
    const auto& u = std::get<infer::UnetArchitecture>(*c.model.architecture);
    EXPECT_EQ(u.filters, 16);
    EXPECT_EQ(u.depth, 4);
    EXPECT_EQ(u.dilation, (std::vector<int>{1, 1, 2, 4}));
    EXPECT_TRUE(u.separable);
    EXPECT_EQ(u.in_channels, 3);
    EXPECT_EQ(u.classes, 2);
    EXPECT_DOUBLE_EQ(u.dropout, 0.25);
    EXPECT_EQ(c.tile.size, 128);
    EXPECT_EQ(c.tile.halo_px, 40);
    EXPECT_EQ(c.stitch.mode, StitchMode::blend);
    EXPECT_EQ(c.output.path, fs::path("/data/out/mask.h5"));
    EXPECT_EQ(c.output.probabilities, ProbabilityFormat::uint8);
    EXPECT_DOUBLE_EQ(c.output.threshold, 0.7);
    EXPECT_EQ(c.output.compression, "none");
    EXPECT_EQ(c.output.compression_level, 9);
    EXPECT_EQ(c.runtime.threads, 3);
    EXPECT_EQ(c.runtime.threads_from, "runtime.threads");
    EXPECT_EQ(c.where("tile.size"), "run.yaml:21 tile.size");
    EXPECT_EQ(c.where("model.architecture.dilation"), "run.yaml:15 model.architecture.dilation");
}

TEST(Config, DefaultsAndClassifier)
{
    const RunConfig c = parse_config(minimal, "run.yaml", "/data");
    EXPECT_TRUE(c.input.bands.empty());
    EXPECT_TRUE(c.input.normalize.empty());
    EXPECT_FALSE(c.input.nodata);
    EXPECT_FALSE(c.model.architecture);
    EXPECT_FALSE(c.tile.size);
    EXPECT_FALSE(c.tile.halo_px);
    EXPECT_EQ(c.stitch.mode, StitchMode::crop);
    EXPECT_EQ(c.output.probabilities, ProbabilityFormat::none);
    EXPECT_DOUBLE_EQ(c.output.threshold, 0.5);
    EXPECT_EQ(c.output.compression, "deflate");
    EXPECT_EQ(c.output.compression_level, 4);
    EXPECT_GE(c.runtime.threads, 1);
    EXPECT_EQ(c.runtime.threads_from, "all cores");

    const RunConfig k =
        parse_config(minimal, "run.yaml", "/data",
                     {"model.architecture={type: classifier, height: 32, width: 32, classes: 5}"});
    const auto& a = std::get<infer::ClassifierArchitecture>(*k.model.architecture);
    EXPECT_EQ(a.height, 32);
    EXPECT_EQ(a.width, 32);
    EXPECT_EQ(a.in_channels, 1);
    EXPECT_EQ(a.classes, 5);

    const RunConfig d =
        parse_config(minimal, "run.yaml", "/data", {"model.architecture={type: unet, depth: 3}"});
    const auto& u = std::get<infer::UnetArchitecture>(*d.model.architecture);
    EXPECT_EQ(u.dilation, (std::vector<int>{1, 2, 2}));
    EXPECT_EQ(u.filters, 64);
}

TEST(Config, DuplicateKeyInDocumentIsRejected)
{
    EXPECT_EQ(error_of(minimal + "tile:\n  size: 64\n  size: 32\n"),
              "run.yaml:9 tile.size: duplicate key");
}

TEST(Config, UnknownKeyNamesFileLineAndKey)
{
    EXPECT_EQ(error_of(minimal + "tile:\n  sise: 64\n"),
              "run.yaml:8 tile.sise: unknown key; expected one of size, halo, stitch, executor, "
              "stream_strip");
    EXPECT_EQ(error_of("inputs:\n  path: x\n"),
              "run.yaml:1 inputs: unknown key; expected one of input, model, tile, output, "
              "runtime");
    EXPECT_EQ(error_of(open_model + "  architecture:\n    type: unet\n    filter: 8\n"),
              "run.yaml:9 model.architecture.filter: unknown key; expected one of type, "
              "filters, depth, dilation, separable, in_channels, classes, dropout, height, width");
}

TEST(Config, WrongTypeNamesExpectedAndFound)
{
    EXPECT_EQ(error_of(minimal + "tile:\n  size: big\n"),
              "run.yaml:8 tile.size: expected an integer in 1..65536, found 'big'");
    EXPECT_EQ(error_of(minimal + "tile:\n  size: [1, 2]\n"),
              "run.yaml:8 tile.size: expected an integer in 1..65536, found a list of 2");
    EXPECT_EQ(error_of(minimal + "tile: 5\n"),
              "run.yaml:7 tile: expected a section with keys size, halo, stitch, executor, "
              "stream_strip, found '5'");
    EXPECT_EQ(error_of("input:\n  path: a\n  bands: [1, x]\n"),
              "run.yaml:3 input.bands: expected a list of integers >= 1, found 'x' in it");
    EXPECT_EQ(error_of(minimal + "runtime:\n  threads: 2.5\n"),
              "run.yaml:8 runtime.threads: expected an integer in 0..4096, found '2.5'");
    EXPECT_EQ(error_of(open_model + "  architecture: {type: unet, separable: maybe}\n"),
              "run.yaml:7 model.architecture.separable: expected true or false, found 'maybe'");
}

TEST(Config, BadValueNamesExpectedAndFound)
{
    EXPECT_EQ(error_of(minimal + "  threshold: 1.5\n"),
              "run.yaml:7 output.threshold: expected a number in [0, 1], found '1.5'");
    EXPECT_EQ(error_of(minimal + "tile:\n  stitch: feather\n"),
              "run.yaml:8 tile.stitch: expected one of crop|blend, found 'feather'");
    EXPECT_EQ(error_of(minimal + "tile:\n  halo: -8\n"),
              "run.yaml:8 tile.halo: expected `exact` or an integer in 0..65536 (pixels), found "
              "'-8'");
    EXPECT_EQ(error_of(minimal + "tile:\n  halo: 70000\n"),
              "run.yaml:8 tile.halo: expected `exact` or an integer in 0..65536 (pixels), found "
              "'70000'");
    EXPECT_EQ(error_of(minimal + "  compression_level: 0\n"),
              "run.yaml:7 output.compression_level: expected an integer in 1..9, found '0'");
    EXPECT_EQ(error_of(open_input + "  bands: [0]\n"),
              "run.yaml:7 input.bands: expected a list of integers >= 1, found '0' in it");
    EXPECT_EQ(error_of(open_input + "  normalize: {mean: 1, scale: 2}\n"),
              "run.yaml:7 input.normalize.mean: expected either {scale, offset} or {mean, std}, "
              "found both forms");
    EXPECT_EQ(error_of(open_input + "  normalize:\n    std: [1, 0]\n"),
              "run.yaml:8 input.normalize.std: expected non-zero values, found 0");
    // Normalizations that cannot give finite float32 inputs, named by key and value.
    EXPECT_EQ(error_of(open_input + "  normalize:\n    std: 1e-320\n"),
              "run.yaml:8 input.normalize.std: found 1e-320: the scale 1 / std is inf, beyond "
              "float32 (|x| <= 3.40282e+38): the network's inputs would not be finite");
    EXPECT_EQ(error_of(open_input + "  normalize:\n    scale: 1e308\n"),
              "run.yaml:8 input.normalize.scale: found 1e+308, beyond float32 (|x| <= "
              "3.40282e+38): the network's inputs would not be finite");
    EXPECT_EQ(error_of(open_input + "  normalize:\n    offset: [0, -1e39]\n"),
              "run.yaml:8 input.normalize.offset: found -1e+39, beyond float32 (|x| <= "
              "3.40282e+38): the network's inputs would not be finite");
    EXPECT_EQ(error_of(open_input + "  normalize:\n    mean: 1e30\n    std: 1e-20\n"),
              "run.yaml:8 input.normalize.mean: found 1e+30: the offset -mean / std is -1e+50, "
              "beyond float32 (|x| <= 3.40282e+38): the network's inputs would not be finite");
    EXPECT_EQ(error_of(open_input + "  normalize:\n    scale: [1, 2]\n    offset: [1, 2, "
                                    "3]\n"),
              "run.yaml:8 input.normalize.scale: expected 1 or 3 values (as the other normalize "
              "keys), found 2");
    EXPECT_EQ(error_of(open_input + "  bands: [1, 2]\n  normalize: {scale: [1, 2, 3]}\n"),
              "run.yaml:8 input.normalize: expected 1 or 2 values (one per band of input.bands), "
              "found 3");
    EXPECT_EQ(error_of(open_model + "  architecture: {type: unet, depth: 3, dilation: [1, "
                                    "2]}\n"),
              "run.yaml:7 model.architecture.dilation: expected 3 rates (one per level of depth "
              "3), found 2");
    EXPECT_EQ(error_of(open_model + "  architecture: {type: classifier, filters: 8}\n"),
              "run.yaml:7 model.architecture.filters: only for type unet, found type classifier");
    EXPECT_EQ(error_of(open_model + "  architecture: {filters: 8}\n"),
              "run.yaml:7 model.architecture: expected key `type` (unet or classifier), found "
              "none");
}

TEST(Config, MissingRequiredKeyAndSyntaxError)
{
    EXPECT_EQ(error_of("input:\n  path: a.tif\noutput:\n  path: b.h5\n"),
              "run.yaml model.weights: required key missing; expected Keras model file: HDF5 "
              "(model.save or save_weights layout, Keras 2 or 3), Keras 3 .keras (zip) or "
              ".weights.h5.");
    const std::string syntax = error_of("input:\n  path: [a.tif\nmodel: {\n");
    EXPECT_TRUE(syntax.rfind("run.yaml:", 0) == 0) << syntax;
    EXPECT_NE(syntax.find("YAML syntax error"), std::string::npos) << syntax;
    EXPECT_EQ(error_of("- a\n- b\n"),
              "run.yaml: expected a map with sections input, model, tile, output, runtime, "
              "found a list of 2");
}

TEST(Config, OutputMustNotBeTheInput)
{
    EXPECT_EQ(error_of(minimal, {"output.path=/data/scene.tif"}),
              "--set output.path: expected a file other than the input, found /data/scene.tif "
              "again");
}

TEST(Config, SetOverridesTheFile)
{
    const UsableCpus cpus{64, ""};
    const RunConfig c = parse_config(minimal + "tile:\n  size: 64\n", "run.yaml", "/data",
                                     {"tile.size=128", "tile.halo=exact", "input.bands=[2, 1]",
                                      "output.probabilities=float32", "runtime.threads=5",
                                      "input.normalize={scale: 0.5}"},
                                     nullptr, &cpus);
    EXPECT_EQ(c.tile.size, 128);
    EXPECT_FALSE(c.tile.halo_px);
    EXPECT_EQ(c.input.bands, (std::vector<int>{2, 1}));
    EXPECT_EQ(c.output.probabilities, ProbabilityFormat::float32);
    EXPECT_EQ(c.runtime.threads, 5);
    ASSERT_EQ(c.input.normalize.size(), 1u);
    EXPECT_DOUBLE_EQ(c.input.normalize[0].scale, 0.5);
    EXPECT_EQ(c.where("tile.size"), "--set tile.size");
    EXPECT_EQ(c.where("input.normalize.scale"), "--set input.normalize.scale");

    EXPECT_EQ(
        error_of(minimal, {"tile.sise=64"}),
        "--set tile.sise: unknown key; expected one of size, halo, stitch, executor, stream_strip");
    // A section only --set made is blamed on that --set, not on a line of the file.
    EXPECT_EQ(error_of(minimal, {"foo.bar=1"}),
              "--set foo.bar: unknown key; expected one of input, model, tile, output, runtime");
    EXPECT_EQ(error_of(minimal, {"tile.size=abc"}),
              "--set tile.size: expected an integer in 1..65536, found 'abc'");
    EXPECT_EQ(error_of(minimal, {"tile.size"}), "--set tile.size: expected key.path=value");
    EXPECT_EQ(error_of(minimal, {"input.path.x=1"}),
              "--set input.path.x: 'path' is not a section in the file");
}

TEST(Config, RelativePathsResolveAgainstTheYamlDirectory)
{
    const fs::path dir =
        fs::temp_directory_path() / ("atrous_config_test_" + std::to_string(::getpid()));
    fs::create_directories(dir / "sub");
    {
        std::ofstream(dir / "sub" / "run.yaml") << minimal;
    }
    const RunConfig c = load_config(dir / "sub" / "run.yaml", {"model.weights=w.h5"});
    EXPECT_EQ(c.input.path, (dir / "sub" / "scene.tif").lexically_normal());
    EXPECT_EQ(c.output.path, (dir / "sub" / "out" / "mask.h5").lexically_normal());
    // --set paths are the user's: relative to the working directory.
    EXPECT_EQ(c.model.weights, (fs::current_path() / "w.h5").lexically_normal());
    EXPECT_EQ(c.file, fs::absolute(dir / "sub" / "run.yaml"));
    EXPECT_EQ(c.where("input.path"), (dir / "sub" / "run.yaml").string() + ":2 input.path");

    try
    {
        load_config(dir / "missing.yaml");
        FAIL();
    }
    catch (const ConfigError& e)
    {
        EXPECT_EQ(std::string(e.what()),
                  (dir / "missing.yaml").string() + ": cannot read the config: no such file");
    }
    fs::remove_all(dir);
}

TEST(Config, ThreadsFromSlurm)
{
    const UsableCpus cpus{64, ""};
    EXPECT_EQ(resolve_threads(4, "8", cpus), (std::pair<int, std::string>{4, "runtime.threads"}));
    EXPECT_EQ(resolve_threads(0, "8", cpus),
              (std::pair<int, std::string>{8, "SLURM_CPUS_PER_TASK"}));
    EXPECT_EQ(resolve_threads(0, nullptr, cpus).second, "all cores");
    EXPECT_THROW(resolve_threads(0, "lots"), ConfigError);
    EXPECT_LE(resolve_threads(0, "99999999").first, usable_cpus().count);
    const RunConfig c = parse_config(minimal, "run.yaml", "/data", {}, "6", &cpus);
    EXPECT_EQ(c.runtime.threads, 6);
}

TEST(Config, NormalizedYamlRoundTrips)
{
    const RunConfig c = parse_config(
        minimal, "run.yaml", "/data",
        {"input.normalize={mean: [1, 2], std: [4, 8]}", "input.nodata=0", "tile.halo=24",
         "model.architecture={type: unet, filters: 8, depth: 3}", "output.threshold=0.3"});
    const std::string yaml = c.normalized_yaml();
    const RunConfig again = parse_config(yaml, "normalized", "/elsewhere");
    EXPECT_EQ(again.input.path, c.input.path);
    ASSERT_EQ(again.input.normalize.size(), 2u);
    EXPECT_DOUBLE_EQ(again.input.normalize[1].scale, 0.125);
    EXPECT_DOUBLE_EQ(again.input.normalize[1].offset, -0.25);
    EXPECT_EQ(again.input.nodata, 0.0);
    EXPECT_EQ(again.tile.halo_px, 24);
    EXPECT_DOUBLE_EQ(again.output.threshold, 0.3);
    EXPECT_EQ(std::get<infer::UnetArchitecture>(*again.model.architecture).dilation,
              (std::vector<int>{1, 2, 2}));
    EXPECT_EQ(again.normalized_yaml(), yaml);
}

std::string read_text(const fs::path& p)
{
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(Config, ShippedConfigsMentionAndParseEveryKey)
{
    int files = 0;
    for (const auto& entry : fs::directory_iterator(source_dir / "configs"))
    {
        if (entry.path().extension() != ".yaml")
            continue;
        ++files;
        SCOPED_TRACE(entry.path().string());
        const std::string text = read_text(entry.path());
        for (const auto& k : config_keys())
        {
            // Each key appears as "leaf:" in the file (commented out where it is an
            // alternative, e.g. the classifier's height next to the U-Net's filters).
            const auto leaf = k.key.substr(k.key.rfind('.') + 1);
            EXPECT_TRUE(std::regex_search(text, std::regex("(^|\\n)[ #]*" + leaf + ":"))) << k.key;
        }
        EXPECT_NO_THROW(load_config(entry.path()));
    }
    EXPECT_GE(files, 2);
}

TEST(Config, ReadmeKeyTableListsEveryKey)
{
    const std::string readme = read_text(source_dir / "README.md");
    for (const auto& k : config_keys())
    {
        if (k.type == "section")
            continue;
        EXPECT_NE(readme.find("`" + k.key + "`"), std::string::npos) << k.key;
    }
    // The table between the markers is exactly what `atrous keys` prints (regenerate it there).
    const std::string begin = "<!-- BEGIN atrous keys -->\n";
    const auto from = readme.find(begin);
    const auto to = readme.find("<!-- END atrous keys -->");
    ASSERT_NE(from, std::string::npos);
    ASSERT_NE(to, std::string::npos);
    EXPECT_EQ(readme.substr(from + begin.size(), to - from - begin.size()), config_keys_markdown());
}

} // namespace
} // namespace atrous
