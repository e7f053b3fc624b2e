// SPDX-License-Identifier: Apache-2.0
// Purpose: the table of configuration keys: one row per key drives parsing, validation, the
// README key table (`atrous keys`) and the test that configs/*.yaml mention every key.
#include "config_keys.hpp"

#include "stages/infer/kernels/cpu_features.hpp"

namespace atrous
{
namespace config_detail
{

/// tile.halo in pixels: at most this (a window's edge must stay well inside int).
constexpr int max_halo_px = 1 << 16;

const std::vector<Entry>& entries()
{
    static const std::vector<Entry> table = {
        {{"input", "section", "", "The raster to segment.", true}, nullptr},
        {{"input.path", "path", "",
          "Input raster: any file GDAL opens (GeoTIFF, COG, VRT, ...), or a GDAL virtual path "
          "(/vsicurl/https://..., /vsis3/, /vsigs/, /vsiaz/, /vsizip/, /vsigzip/), kept verbatim.",
          true},
         [](const Value& v, Parsed& p) { p.cfg.input.path = v.as_dataset_path(); }},
        {{"input.bands", "list of integers >= 1", "all bands",
          "Bands fed to the model, 1-based, in this order; their count must equal the model's "
          "input channels."},
         [](const Value& v, Parsed& p) { p.cfg.input.bands = v.as_int_list(1); }},
        {{"input.normalize", "section", "identity",
          "Per-band normalization: either {scale, offset} (v * scale + offset) or {mean, std} "
          "((v - mean) / std); each one number for every band or one per band."},
         nullptr},
        {{"input.normalize.scale", "number or list", "1", "Multiplier (scale/offset form)."},
         [](const Value& v, Parsed& p) { p.normalize.scale = v.as_number_list(); }},
        {{"input.normalize.offset", "number or list", "0", "Added after scaling."},
         [](const Value& v, Parsed& p) { p.normalize.offset = v.as_number_list(); }},
        {{"input.normalize.mean", "number or list", "0", "Subtracted (mean/std form)."},
         [](const Value& v, Parsed& p) { p.normalize.mean = v.as_number_list(); }},
        {{"input.normalize.std", "number or list", "1", "Divisor (mean/std form), non-zero."},
         [](const Value& v, Parsed& p) { p.normalize.std = v.as_number_list(); }},
        {{"input.normalize.preset", "one of uint8|percentile", "none",
          "Instead of the numbers: uint8 = scale 1/255; percentile = per band, the "
          "input.normalize.percentiles of a <= 1024 px sample read downsampled by GDAL (nodata "
          "excluded; for 16-bit data) stretched to [0, 1], computed once before the run."},
         [](const Value& v, Parsed& p) {
             p.normalize.preset = v.as_choice({"uint8", "percentile"});
         }},
        {{"input.normalize.percentiles", "two numbers in [0, 100]", "[2, 98]",
          "preset percentile: the low and high percentile."},
         [](const Value& v, Parsed& p) { p.normalize.percentiles = v.as_number_list(); }},
        {{"input.nodata", "number", "the file's",
          "Pixel value meaning `no data`, compared before normalization: a pixel whose selected "
          "bands all equal it (or any band is NaN/Inf) is fed as 0 and written as nodata."},
         [](const Value& v, Parsed& p)
         {
             auto d = Value::parse_double(v.node());
             if (!d)
                 v.fail("a number");
             p.cfg.input.nodata = *d;
         }},
        {{"model", "section", "", "The network.", true}, nullptr},
        {{"model.weights", "path", "",
          "Keras model file: HDF5 (model.save or save_weights layout, Keras 2 or 3), Keras 3 "
          ".keras (zip) or .weights.h5.",
          true},
         [](const Value& v, Parsed& p) { p.cfg.model.weights = v.as_path(); }},
        {{"model.architecture", "section", "from the file",
          "The built-in architecture, needed only when the weights file has no model_config "
          "(save_weights layout)."},
         nullptr},
        {{"model.architecture.type", "one of unet|classifier", "required in the section",
          "Which built-in network."},
         [](const Value& v, Parsed& p) {
             p.arch.type = v.as_choice({"unet", "classifier"});
         }},
        {{"model.architecture.filters", "integer >= 1", "64",
          "unet: width of level 1 (level i "
          "has filters * 2^(i-1))."},
         [](const Value& v, Parsed& p) { p.arch.filters = v.as_int(1, 4096); }},
        {{"model.architecture.depth", "integer >= 1", "5",
          "unet: number of levels (depth - 1 poolings; total stride 2^(depth-1))."},
         [](const Value& v, Parsed& p) { p.arch.depth = v.as_int(1, 10); }},
        {{"model.architecture.dilation", "list of integers >= 1",
          "1 except the deepest two "
          "levels: 2",
          "unet: dilation rate per level (one per level)."},
         [](const Value& v, Parsed& p) { p.arch.dilation = v.as_int_list(1); }},
        {{"model.architecture.separable", "boolean", "false",
          "unet: SeparableConv2D instead of every 3x3 Conv2D."},
         [](const Value& v, Parsed& p) { p.arch.separable = v.as_bool(); }},
        {{"model.architecture.in_channels", "integer >= 1", "1", "Input bands of the network."},
         [](const Value& v, Parsed& p) { p.arch.in_channels = v.as_int(1, 4096); }},
        {{"model.architecture.classes", "integer >= 1", "1 (unet), 10 (classifier)",
          "Output classes (1 = sigmoid mask, more = softmax)."},
         [](const Value& v, Parsed& p) { p.arch.classes = v.as_int(1, 65535); }},
        {{"model.architecture.dropout", "number in [0, 1)", "0.5",
          "unet: Dropout rate after the dilated levels (inactive at inference; for matching "
          "layer names)."},
         [](const Value& v, Parsed& p) { p.arch.dropout = v.as_double(0.0, 0.999999); }},
        {{"model.architecture.height", "integer >= 1", "28", "classifier: input height."},
         [](const Value& v, Parsed& p) { p.arch.height = v.as_int(1, 65535); }},
        {{"model.architecture.width", "integer >= 1", "28", "classifier: input width."},
         [](const Value& v, Parsed& p) { p.arch.width = v.as_int(1, 65535); }},
        {{"tile", "section", "", "How the image is cut into tiles."}, nullptr},
        {{"tile.size", "integer >= 1", "256 (classifier: its input size)",
          "Core edge in output pixels; a multiple of the model's total stride."},
         [](const Value& v, Parsed& p) { p.cfg.tile.size = v.as_int(1, 1 << 16); }},
        {{"tile.halo", "exact or integer in 0..65536", "exact",
          "Context read around each core: `exact` = the model's receptive radius (result equal "
          "to a whole-image run), or pixels (rounded up to the stride)."},
         [](const Value& v, Parsed& p)
         {
             if (v.node().IsScalar() && v.node().Scalar() == "exact")
                 p.cfg.tile.halo_px.reset();
             else if (auto i = Value::parse_int(v.node()); i && *i >= 0 && *i <= max_halo_px)
                 p.cfg.tile.halo_px = *i;
             else
                 v.fail(fmt::format("`exact` or an integer in 0..{} (pixels)", max_halo_px));
         }},
        {{"tile.stitch", "one of crop|blend", "crop",
          "crop: keep each tile's core (exact with an exact halo); blend: weighted average of "
          "overlapping windows."},
         [](const Value& v, Parsed& p)
         {
             p.cfg.stitch.mode =
                 v.as_choice({"crop", "blend"}) == "crop" ? StitchMode::crop : StitchMode::blend;
         }},
        {{"tile.executor", "one of auto|tiles|stream", "auto",
          "auto: stream where it can run, else tiles (the plan summary says which and why); "
          "stream: run the whole image once, top to bottom in bands of rows, strip by strip "
          "(tile.stream_strip; every value of a strip computed once; skips all-nodata tile rows; "
          "needs halo exact, stitch crop and a model without Dense/Flatten; auto also wants its "
          "row buffers within 1.25 GiB); tiles: run each tile's window through the network (any "
          "halo, blend; skips all-nodata tiles)."},
         [](const Value& v, Parsed& p)
         {
             const std::string e = v.as_choice({"auto", "tiles", "stream"});
             p.cfg.tile.executor = e == "stream"  ? TileOptions::Executor::stream
                                   : e == "tiles" ? TileOptions::Executor::tiles
                                                  : TileOptions::Executor::automatic;
         }},
        {{"tile.stream_strip", "auto, full or integer >= 1", "auto",
          "stream: output columns per vertical strip (rounded up to a multiple of tile.size), "
          "streamed one after the other; each layer computes only the columns its strip needs, so "
          "row buffers are bounded by the strip, not the image. The result is the same bytes for "
          "every strip width. auto: 4096 px (measured: bench/README.md; one strip up to 6144 px), "
          "narrower where the row buffers would exceed 1.25 GiB; full: the whole width in one "
          "strip."},
         [](const Value& v, Parsed& p)
         {
             if (v.node().IsScalar() && v.node().Scalar() == "auto")
                 p.cfg.tile.stream_strip_px.reset();
             else if (v.node().IsScalar() && v.node().Scalar() == "full")
                 p.cfg.tile.stream_strip_px = 0;
             else if (auto i = Value::parse_int(v.node()); i && *i >= 1 && *i <= (1 << 20))
                 p.cfg.tile.stream_strip_px = *i;
             else
                 v.fail("`auto`, `full` or an integer in 1..1048576 (pixels)");
         }},
        {{"output", "section", "", "The HDF5 file written.", true}, nullptr},
        {{"output.path", "path", "",
          "HDF5 output; written as `<path>.partial` and renamed when complete.", true},
         [](const Value& v, Parsed& p) { p.cfg.output.path = v.as_path(); }},
        {{"output.probabilities", "one of none|uint8|float32", "none",
          "Also store the probabilities: none, uint8 (p * 254, 255 = nodata) or float32."},
         [](const Value& v, Parsed& p)
         {
             const auto s = v.as_choice({"none", "uint8", "float32"});
             p.cfg.output.probabilities = s == "none"    ? ProbabilityFormat::none
                                          : s == "uint8" ? ProbabilityFormat::uint8
                                                         : ProbabilityFormat::float32;
         }},
        {{"output.threshold", "number in [0, 1]", "0.5",
          "1-class models: mask = probability >= threshold."},
         [](const Value& v, Parsed& p) { p.cfg.output.threshold = v.as_double(0.0, 1.0); }},
        {{"output.compression", "one of deflate|none", "deflate", "HDF5 chunk compression."},
         [](const Value& v, Parsed& p) {
             p.cfg.output.compression = v.as_choice({"deflate", "none"});
         }},
        {{"output.compression_level", "integer in 1..9", "4", "deflate level."},
         [](const Value& v, Parsed& p) { p.cfg.output.compression_level = v.as_int(1, 9); }},
        {{"runtime", "section", "", "Resources."}, nullptr},
        {{"runtime.threads", "integer in 0..4096", "0",
          "Worker threads; 0 = SLURM_CPUS_PER_TASK when set, else every CPU this process may "
          "run on. Never more than those CPUs (affinity mask, cgroup CPU quota): a larger "
          "request is cut, and the plan summary says so."},
         [](const Value& v, Parsed& p) { p.threads = v.as_int(0, max_threads); }},
        {{"runtime.sync_interval", "number in [0, 3600]", "1",
          "Seconds between progress commits (fsync, then tiles marked done; at least 100x the "
          "last commit's duration); 0 = every tile."},
         [](const Value& v, Parsed& p) { p.cfg.runtime.sync_interval = v.as_double(0.0, 3600.0); }},
        {{"runtime.precision", "one of fp32|bf16", "fp32",
          "Convolution arithmetic: fp32 (the exact reference), or bf16 (Conv2D weights and inputs "
          "rounded to bfloat16; sums, bias, activations and the output in fp32; needs "
          "AVX512_BF16). bf16 is not faster on a CPU without AMX (README \"bf16\"). Part of the "
          "resume fingerprint."},
         [](const Value& v, Parsed& p)
         {
             const auto s = v.as_choice({"fp32", "bf16"});
             if (s == "bf16")
                 if (const std::string missing = infer::kernels::bf16_missing_feature();
                     !missing.empty())
                     v.fail("fp32 (" + missing + ")");
             p.cfg.model.precision = s == "bf16" ? infer::Precision::bf16 : infer::Precision::fp32;
         }},
        {{"runtime.gdal_cache_mb", "integer >= 1", "from the tile plan",
          "GDAL's block cache (process-wide) in MB. Default: the input's blocks of one row of "
          "tile windows across the raster (each block is then decoded once, striped TIFFs "
          "included) + 25 %, 64..1024 MB; the plan summary prints it."},
         [](const Value& v, Parsed& p) { p.cfg.input.gdal_cache_mb = v.as_int(1, 1 << 20); }},
    };
    return table;
}

const Entry* find_entry(const std::string& key)
{
    for (const auto& e : entries())
        if (e.doc.key == key)
            return &e;
    return nullptr;
}

bool is_section(const Entry& e)
{
    return e.doc.type == "section";
}

std::string parent_of(const std::string& key)
{
    const auto dot = key.rfind('.');
    return dot == std::string::npos ? std::string() : key.substr(0, dot);
}

std::string children_of(const std::string& section)
{
    std::string list;
    for (const auto& e : entries())
        if (parent_of(e.doc.key) == section)
        {
            const auto leaf = section.empty() ? e.doc.key : e.doc.key.substr(section.size() + 1);
            list += (list.empty() ? "" : ", ") + leaf;
        }
    return list;
}

} // namespace config_detail

using namespace config_detail;

const std::vector<ConfigKey>& config_keys()
{
    static const std::vector<ConfigKey> keys = []
    {
        std::vector<ConfigKey> out;
        for (const auto& e : entries())
            out.push_back(e.doc);
        return out;
    }();
    return keys;
}

std::string config_keys_markdown()
{
    std::string out = "| key | type | default | meaning |\n|---|---|---|---|\n";
    for (const auto& k : config_keys())
    {
        if (k.type == "section")
            continue;
        std::string help = k.help;
        std::replace(help.begin(), help.end(), '|', '/');
        std::string type = k.type;
        std::replace(type.begin(), type.end(), '|', '/');
        out += fmt::format("| `{}` | {} | {} | {} |\n", k.key, type,
                           k.required ? "required" : k.default_value, help);
    }
    return out;
}

} // namespace atrous
