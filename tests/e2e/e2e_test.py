#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: end-to-end tests of the `atrous` executable (see CMakeLists.txt); one test per call.
"""atrous end-to-end tests.

    e2e_test.py --atrous build/atrous --source . --work build/e2e-work TEST

Each test builds its inputs under WORK/TEST (a georeferenced GeoTIFF of odd size with a nodata
region, a YAML configuration), runs the executable, and checks exit status, messages and output.
Exit 0 = pass, 1 = fail, 77 = skipped.
"""

import argparse
import hashlib
import os
import shutil
import struct
import subprocess
import sys

import h5py
import numpy as np
import yaml
from osgeo import gdal

gdal.UseExceptions()

WIDTH, HEIGHT = 301, 197          # odd, not a multiple of any tile or stride
NODATA_RECT = (0, 0, 90, 70)      # x, y, w, h: larger than a 64 px core at the origin
GEOTRANSFORM = (500000.0, 0.5, 0.0, 5500000.0, 0.0, -0.5)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Context:
    def __init__(self, args, name):
        self.atrous = args.atrous
        self.source = args.source
        self.dir = os.path.join(args.work, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.models = os.path.join(self.source, "tests", "fixtures", "models")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def model(self, name):
        return os.path.join(self.models, name)

    def run(self, *argv, expect_rc=None):
        proc = subprocess.run([self.atrous, *argv], cwd=self.dir, capture_output=True, text=True,
                              timeout=540, stdin=subprocess.DEVNULL)
        print("$ atrous", " ".join(argv))
        print("rc", proc.returncode)
        print("--- stdout\n" + proc.stdout + "--- stderr\n" + proc.stderr + "---")
        if expect_rc is not None:
            check(proc.returncode == expect_rc,
                  f"exit status {proc.returncode}, expected {expect_rc}")
        return proc


def write_geotiff(path, bands=3, nodata_rect=NODATA_RECT, seed=1):
    rng = np.random.default_rng(seed)
    data = rng.integers(1, 1000, size=(bands, HEIGHT, WIDTH), dtype=np.uint16)
    # Smooth structure on top of the noise, so that the network sees shapes.
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    data += (400 * (np.sin(xx / 9.0) * np.cos(yy / 7.0) > 0.3)).astype(np.uint16)
    if nodata_rect:
        x, y, w, h = nodata_rect
        data[:, y:y + h, x:x + w] = 0
    ds = gdal.GetDriverByName("GTiff").Create(path, WIDTH, HEIGHT, bands, gdal.GDT_UInt16,
                                              ["TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64"])
    ds.SetGeoTransform(GEOTRANSFORM)
    srs = gdal.osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for b in range(bands):
        band = ds.GetRasterBand(b + 1)
        band.SetNoDataValue(0)
        band.WriteArray(data[b])
    ds = None
    return data


def write_config(ctx, name="run.yaml", input_path="scene.tif", weights=None, tile_size=64,
                 output="out/mask.h5", extra="", scale=0.001, offset=None, bands=None):
    weights = weights or ctx.model("unet_rgb3_full.h5")
    sel = f"  bands: {list(bands)}\n" if bands else ""
    off = f"    offset: {offset!r}\n" if offset is not None else ""
    text = f"""# e2e configuration
input:
  path: {input_path}
{sel}  normalize:
    scale: {scale!r}
{off}model:
  weights: {weights}
tile:
  size: {tile_size}
  halo: exact
output:
  path: {output}
  probabilities: float32
runtime:
  threads: 2
{extra}"""
    with open(ctx.path(name), "w") as f:
        f.write(text)
    os.makedirs(ctx.path("out"), exist_ok=True)
    return ctx.path(name)


def no_output(ctx, output="out/mask.h5"):
    out = ctx.path(output)
    check(not os.path.exists(out), f"{out} exists after a failed run")
    check(not os.path.exists(out + ".partial"), f"{out}.partial exists after a failed run")


def one_line_error(proc, *needles):
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    check(len(lines) == 1, f"expected one line on stderr, found {len(lines)}")
    line = lines[0]
    check(line.startswith("atrous: "), f"message does not start with 'atrous: ': {line}")
    for n in needles:
        check(n in line, f"message does not name {n!r}: {line}")
    return line


def line_of(path, key):
    with open(path) as f:
        for i, l in enumerate(f, 1):
            if l.strip().startswith(key + ":"):
                return i
    raise Failure(f"{key} not in {path}")


# --- successful runs ----------------------------------------------------------------------------

def read_output(path):
    with h5py.File(path, "r") as f:
        out = {
            "mask": f["mask"][()],
            "probability": f["probability"][()],
            "attrs": dict(f.attrs),
            "tile_done": f["progress/tile_done"][()],
        }
    return out


def test_run_geotiff(args):
    ctx = Context(args, "run_geotiff")
    data = write_geotiff(ctx.path("scene.tif"))
    write_config(ctx)
    proc = ctx.run("run", "run.yaml", "--log-format", "plain", expect_rc=0)
    out_path = ctx.path("out", "mask.h5")
    check(os.path.exists(out_path), "no output")
    check(not os.path.exists(out_path + ".partial"), "a .partial file is left")

    # What it will do, then progress, then the summary.
    for needle in ["input   301 x 197 px, 3 bands (GTiff), nodata 0", "WGS 84 / UTM zone 33N",
                   "3 -> 3 channels (softmax)", "tiles   5 x 4 = 20 tiles of 64 px, halo 96 px",
                   "executor stream (auto: every value computed once",
                   "(one pass of the 304 x 200 px padded image; exact tiles would compute",
                   "threads 2", "tiles 20/20 (100.0%)", "done: 20 tiles"]:
        check(needle in proc.stdout, f"stdout lacks {needle!r}")

    o = read_output(out_path)
    mask, prob = o["mask"], o["probability"]
    check(mask.shape == (HEIGHT, WIDTH) and mask.dtype == np.uint8, f"mask {mask.shape}")
    check(prob.shape == (3, HEIGHT, WIDTH) and prob.dtype == np.float32, f"prob {prob.shape}")
    nodata = np.all(data == 0, axis=0)
    x, y, w, h = NODATA_RECT
    check(nodata[y:y + h, x:x + w].all() and nodata.sum() == w * h, "test raster nodata")
    check((mask[nodata] == 255).all(), "nodata pixels are not 255 in /mask")
    check((mask[~nodata] < 3).all(), "valid pixels are not class indices 0..2")
    check(np.isnan(prob[:, nodata]).all(), "nodata probabilities are not NaN")
    valid = prob[:, ~nodata]
    check(np.isfinite(valid).all(), "valid probabilities not finite")
    check(np.abs(valid.sum(axis=0) - 1).max() < 1e-4, "softmax does not sum to 1")
    check((np.argmax(valid, axis=0) == mask[~nodata]).all(), "mask is not the argmax")
    check((o["tile_done"] == 1).all(), "progress/tile_done not all 1")

    a = o["attrs"]
    check(np.allclose(a["geotransform"], GEOTRANSFORM), f"geotransform {a['geotransform']}")
    crs = a["crs_wkt"]
    crs = crs.decode() if isinstance(crs, bytes) else crs
    check("UTM zone 33N" in crs, "crs_wkt lacks the CRS")
    with open(ctx.model("unet_rgb3_full.h5"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    got = a["model_sha256"]
    got = got.decode() if isinstance(got, bytes) else got
    check(got == sha, f"model_sha256 {got} != {sha}")
    cfg_text = a["config_yaml"]
    cfg = yaml.safe_load(cfg_text.decode() if isinstance(cfg_text, bytes) else cfg_text)
    check(cfg["input"]["path"] == ctx.path("scene.tif"), "config_yaml input.path not absolute")
    check(cfg["tile"]["size"] == 64 and cfg["tile"]["halo"] == "exact", "config_yaml tile")

    # GDAL reads the output too.
    info = subprocess.run(["gdalinfo", f'HDF5:"{out_path}"://mask'], capture_output=True,
                          text=True, timeout=120)
    print(info.stdout, info.stderr)
    check(info.returncode == 0, "gdalinfo failed on the output")
    check(f"Size is {WIDTH}, {HEIGHT}" in info.stdout, "gdalinfo: wrong size")
    info = subprocess.run(["gdalinfo", out_path], capture_output=True, text=True, timeout=120)
    check(info.returncode == 0 and "model_sha256=" + sha in info.stdout,
          "gdalinfo does not show the provenance")


def test_tiling_invariance(args):
    """Same probabilities with other tile sizes and thread counts (halo exact, crop)."""
    ctx = Context(args, "tiling_invariance")
    write_geotiff(ctx.path("scene.tif"))
    write_config(ctx)
    ctx.run("run", "run.yaml", "--set", "output.path=a.h5", expect_rc=0)
    ctx.run("run", "run.yaml", "--set", "output.path=b.h5", "--set", "tile.size=32",
            "--set", "runtime.threads=1", expect_rc=0)
    ctx.run("run", "run.yaml", "--set", "output.path=c.h5", "--set", "tile.size=512",
            expect_rc=0)
    a = read_output(ctx.path("a.h5"))
    for other in ["b.h5", "c.h5"]:
        b = read_output(ctx.path(other))
        diff = np.nanmax(np.abs(a["probability"] - b["probability"]))
        print(other, "max |diff|", diff)
        check(diff < 1e-4, f"{other}: probabilities differ by {diff}")
        check(np.array_equal(np.isnan(a["probability"]), np.isnan(b["probability"])),
              f"{other}: nodata differs")
        check((a["mask"] != b["mask"]).sum() == 0, f"{other}: masks differ")


def test_quiet(args):
    ctx = Context(args, "quiet")
    write_geotiff(ctx.path("scene.tif"))
    write_config(ctx)
    proc = ctx.run("run", "run.yaml", "--quiet", expect_rc=0)
    check(proc.stdout == "" and proc.stderr == "", "--quiet printed something")
    check(os.path.exists(ctx.path("out", "mask.h5")), "no output")


def test_save_weights_layout(args):
    """A save_weights file (no model_config) with model.architecture from the config."""
    ctx = Context(args, "save_weights_layout")
    write_geotiff(ctx.path("scene.tif"), bands=1)
    write_config(ctx, weights=ctx.model("unet_d5_weights.h5"), tile_size=48)
    # architecture of the fixture: filters 2, depth 5 (tools/make_model_fixtures.py)
    proc = ctx.run("run", "run.yaml", "--set",
                   "model.architecture={type: unet, filters: 2, depth: 5, in_channels: 1}",
                   "--set", "tile.size=48", expect_rc=0)
    check("1 -> 1 channel (sigmoid)" in proc.stdout, "not the 1-class U-Net")
    o = read_output(ctx.path("out", "mask.h5"))
    check(o["probability"].shape == (1, HEIGHT, WIDTH), "probability shape")
    check(set(np.unique(o["mask"])) <= {0, 1, 255}, "1-class mask values")
    # Without the architecture the file cannot be used: a model error naming what is missing.
    proc = ctx.run("run", "run.yaml", "--set", "output.path=out/b.h5", expect_rc=4)
    one_line_error(proc, "unet_d5_weights.h5")
    no_output(ctx, "out/b.h5")


def test_classifier(args):
    """A classifier tiles the image by its fixed input (28 x 28): one class per tile."""
    ctx = Context(args, "classifier")
    write_geotiff(ctx.path("scene.tif"), bands=1)
    write_config(ctx, weights=ctx.model("classifier_full.h5"))
    proc = ctx.run("run", "run.yaml", "--set", "tile.size=28", expect_rc=0)
    check("11 x 8 = 88 tiles of 28 px, halo 0 px" in proc.stdout, "classifier grid")
    check("class uint8 11 x 8 (one per tile)" in proc.stdout, "classifier output summary")
    with h5py.File(ctx.path("out", "mask.h5"), "r") as f:
        cls = f["class"][()]
        prob = f["class_probability"][()]
    check(cls.shape == (8, 11) and prob.shape == (10, 8, 11), f"shapes {cls.shape} {prob.shape}")
    # The tiles entirely inside the nodata rectangle (90 x 70 px) are nodata.
    check((cls[0:2, 0:3] == 255).all(), "nodata tiles are not 255")
    valid = cls != 255
    check((cls[valid] < 10).all(), "class indices")
    check(np.abs(np.nansum(prob[:, valid], axis=0) - 1).max() < 1e-4, "softmax sums")
    check((np.argmax(prob[:, valid], axis=0) == cls[valid]).all(), "class is the argmax")
    proc = ctx.run("run", "run.yaml", "--set", "tile.size=32", "--set", "output.path=out/b.h5",
                   expect_rc=2)
    one_line_error(proc, "--set tile.size", "28", "32")


# --- bad input: one line naming the culprit, non-zero exit, no output file -----------------------

def test_missing_input(args):
    ctx = Context(args, "missing_input")
    write_config(ctx, input_path="missing.tif")
    proc = ctx.run("run", "run.yaml", expect_rc=3)
    one_line_error(proc, ctx.path("missing.tif"))
    no_output(ctx)


def test_not_a_raster(args):
    ctx = Context(args, "not_a_raster")
    with open(ctx.path("notes.txt"), "w") as f:
        f.write("this is not a raster\n")
    write_config(ctx, input_path="notes.txt")
    proc = ctx.run("run", "run.yaml", expect_rc=3)
    one_line_error(proc, ctx.path("notes.txt"))
    no_output(ctx)


def test_band_mismatch(args):
    ctx = Context(args, "band_mismatch")
    write_geotiff(ctx.path("scene.tif"), bands=3)
    write_config(ctx, weights=ctx.model("unet_d5_full.h5"), tile_size=64)
    proc = ctx.run("run", "run.yaml", expect_rc=3)
    one_line_error(proc, "3 bands delivered", "1 input channel", "scene.tif")
    no_output(ctx)


def test_band_out_of_range(args):
    ctx = Context(args, "band_out_of_range")
    write_geotiff(ctx.path("scene.tif"), bands=3)
    write_config(ctx)
    proc = ctx.run("run", "run.yaml", "--set", "input.bands=[1, 2, 4]", expect_rc=3)
    one_line_error(proc, "scene.tif", "4")
    no_output(ctx)


def test_tile_not_multiple(args):
    ctx = Context(args, "tile_not_multiple")
    write_geotiff(ctx.path("scene.tif"))
    cfg = write_config(ctx, tile_size=100)
    proc = ctx.run("run", "run.yaml", expect_rc=2)
    one_line_error(proc, f"run.yaml:{line_of(cfg, 'size')} tile.size", "multiple of 8", "100")
    no_output(ctx)


def test_model_not_keras(args):
    ctx = Context(args, "model_not_keras")
    write_geotiff(ctx.path("scene.tif"))
    write_config(ctx, weights=ctx.model("not_hdf5.h5"))
    proc = ctx.run("run", "run.yaml", expect_rc=4)
    one_line_error(proc, "not_hdf5.h5")
    no_output(ctx)


def test_output_dir_missing(args):
    ctx = Context(args, "output_dir_missing")
    write_geotiff(ctx.path("scene.tif"))
    write_config(ctx, output="nodir/mask.h5")
    proc = ctx.run("run", "run.yaml", expect_rc=5)
    one_line_error(proc, ctx.path("nodir"))
    no_output(ctx, "nodir/mask.h5")


def test_output_parent_is_file(args):
    ctx = Context(args, "output_parent_is_file")
    write_geotiff(ctx.path("scene.tif"))
    with open(ctx.path("afile"), "w") as f:
        f.write("x")
    write_config(ctx, output="afile/mask.h5")
    proc = ctx.run("run", "run.yaml", expect_rc=5)
    one_line_error(proc, ctx.path("afile"))
    check(os.path.isfile(ctx.path("afile")), "the file was touched")


def test_output_dir_not_writable(args):
    if os.geteuid() == 0:
        print("SKIP: running as root, which may write into any directory")
        sys.exit(77)
    ctx = Context(args, "output_dir_not_writable")
    write_geotiff(ctx.path("scene.tif"))
    write_config(ctx, output="ro/mask.h5")
    os.makedirs(ctx.path("ro"))
    os.chmod(ctx.path("ro"), 0o555)
    try:
        proc = ctx.run("run", "run.yaml", expect_rc=5)
        one_line_error(proc, ctx.path("ro"))
        no_output(ctx, "ro/mask.h5")
    finally:
        os.chmod(ctx.path("ro"), 0o755)


def test_yaml_syntax(args):
    ctx = Context(args, "yaml_syntax")
    with open(ctx.path("run.yaml"), "w") as f:
        f.write("input:\n  path: scene.tif\n  bands: [1, 2\nmodel:\n  weights: x.h5\n")
    proc = ctx.run("run", "run.yaml", expect_rc=2)
    one_line_error(proc, "run.yaml:", "YAML syntax error")
    no_output(ctx)


def test_unknown_key(args):
    ctx = Context(args, "unknown_key")
    write_geotiff(ctx.path("scene.tif"))
    cfg = write_config(ctx)
    with open(cfg) as f:
        text = f.read().replace("  halo: exact\n", "  halo: exact\n  sise: 3\n")
    with open(cfg, "w") as f:
        f.write(text)
    proc = ctx.run("run", "run.yaml", expect_rc=2)
    one_line_error(proc, f"run.yaml:{line_of(cfg, 'sise')} tile.sise", "unknown key",
                   "size, halo, stitch")
    no_output(ctx)


def test_wrong_type(args):
    ctx = Context(args, "wrong_type")
    write_geotiff(ctx.path("scene.tif"))
    cfg = write_config(ctx)
    with open(cfg) as f:
        text = f.read().replace("  threads: 2\n", "  threads: many\n")
    with open(cfg, "w") as f:
        f.write(text)
    proc = ctx.run("run", "run.yaml", expect_rc=2)
    one_line_error(proc, f"run.yaml:{line_of(cfg, 'threads')} runtime.threads",
                   "expected an integer", "'many'")
    no_output(ctx)


def test_set_unknown_key(args):
    ctx = Context(args, "set_unknown_key")
    write_geotiff(ctx.path("scene.tif"))
    write_config(ctx)
    proc = ctx.run("run", "run.yaml", "--set", "tile.sise=3", expect_rc=2)
    one_line_error(proc, "--set tile.sise", "unknown key")
    no_output(ctx)


def test_missing_config(args):
    ctx = Context(args, "missing_config")
    proc = ctx.run("run", "nothere.yaml", expect_rc=2)
    one_line_error(proc, "nothere.yaml", "no such file")


def test_usage(args):
    ctx = Context(args, "usage")
    proc = ctx.run("run", expect_rc=2)
    one_line_error(proc, "command line", "config")
    proc = ctx.run("frobnicate", expect_rc=2)
    one_line_error(proc, "command line")
    proc = ctx.run("run", "x.yaml", "--log-format", "fancy", expect_rc=2)
    one_line_error(proc, "--log-format")
    # --debug lets the exception escape main(): the process aborts instead of exiting 2.
    proc = ctx.run("run", "nothere.yaml", "--debug")
    check(proc.returncode < 0, f"--debug: exit status {proc.returncode}, expected a signal")
    proc = ctx.run("--version", expect_rc=0)
    check(proc.stdout.startswith("atrous "), "--version")
    proc = ctx.run("run", "--help", expect_rc=0)
    check("--set" in proc.stdout and "--quiet" in proc.stdout, "run --help lacks options")
    proc = ctx.run("keys", expect_rc=0)
    check("`tile.halo`" in proc.stdout, "keys lacks tile.halo")


# --- other subcommands ---------------------------------------------------------------------------

def test_info(args):
    ctx = Context(args, "info")
    proc = ctx.run("info", ctx.model("unet_rgb3_full.h5"), "--tile", "64", expect_rc=0)
    for needle in ["conv2d_18", "256", "96"]:
        check(needle in proc.stdout, f"info lacks {needle!r}")
    proc = ctx.run("info", ctx.model("not_hdf5.h5"), expect_rc=4)
    one_line_error(proc, "not_hdf5.h5")
    # The model, tile size and halo of a configuration.
    write_config(ctx, tile_size=32)
    proc = ctx.run("info", "--config", "run.yaml", expect_rc=0)
    check("tile 32 px + halo 96 px (exact) on each side -> input 224 x 224 x 3" in proc.stdout,
          "info --config does not use the config's tile")
    proc = ctx.run("info", "--config", "run.yaml", "--set", "tile.halo=8", expect_rc=0)
    check("tile 32 px + halo 8 px (tile.halo)" in proc.stdout, "info --set tile.halo")


def test_demo(args):
    ctx = Context(args, "demo")
    proc = ctx.run("demo", "--out", "d", "--size", "320", "--threads", "2", expect_rc=0)
    for f in ["scene.tif", "truth.tif", "mask.h5"]:
        check(os.path.exists(ctx.path("d", f)), f"demo did not write {f}")
    placeholder = not os.path.exists(os.path.join(ctx.source, "models", "demo.h5"))
    if placeholder:
        check("PLACEHOLDER MODEL" in proc.stderr and "meaningless" in proc.stderr,
              "the placeholder model is not labelled")
    with h5py.File(ctx.path("d", "mask.h5"), "r") as f:
        check(f["mask"].shape == (320, 320), "demo mask shape")
        m = f["mask"][()]
    check((m[0:80, 240:320] == 255).all(), "the demo's nodata corner is not nodata")
    check(f"gdalinfo HDF5:\"{ctx.path('d', 'mask.h5')}\"://mask" in proc.stdout,
          "demo does not say where the output is")
    # The quick look next to the mask: a PNG (signature + IHDR) of the 320 x 320 scene, never
    # upsampled, so its sides are at most 320 and the square stays square.
    png = ctx.path("d", "mask.png")
    check(os.path.exists(png), "demo did not write the quick-look mask.png")
    check(png in proc.stdout, "demo does not print the quick-look PNG's path")
    with open(png, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", "mask.png is not a PNG")
    w, h = struct.unpack(">II", head[16:24])
    check(w == h and 64 <= w <= 320, f"mask.png is {w} x {h}, expected a square of 64..320 px")
    check(os.path.getsize(png) > 1000, "mask.png is implausibly small")


def test_install_demo(args):
    """`cmake --install` into a prefix, the prefix moved elsewhere, then `DIR/bin/atrous demo` from
    an unrelated directory: the demo's config and model come from DIR/share/atrous."""
    ctx = Context(args, "install_demo")
    build = os.path.dirname(args.atrous)
    proc = subprocess.run(["cmake", "--install", build, "--prefix", ctx.path("prefix")],
                          capture_output=True, text=True, timeout=300)
    print(proc.stdout, proc.stderr)
    check(proc.returncode == 0, "cmake --install failed")
    os.rename(ctx.path("prefix"), ctx.path("moved"))
    share = ctx.path("moved", "share", "atrous")
    for f in ["configs/demo.yaml", "models/demo.h5", "jobs/run.sbatch"]:
        check(os.path.isfile(os.path.join(share, f)), f"install did not place share/atrous/{f}")
    check(os.path.isfile(ctx.path("moved", "lib", "cmake", "atrous", "atrousConfig.cmake")),
          "install did not place the CMake package config")
    os.makedirs(ctx.path("elsewhere"))
    env = dict(os.environ)
    env.pop("ATROUS_DATA_DIR", None)
    proc = subprocess.run([ctx.path("moved", "bin", "atrous"), "demo", "--out", "d", "--size",
                           "256", "--threads", "2"], cwd=ctx.path("elsewhere"), env=env,
                          capture_output=True, text=True, timeout=540, stdin=subprocess.DEVNULL)
    print(proc.stdout, proc.stderr)
    check(proc.returncode == 0, f"installed demo exit status {proc.returncode}")
    check(f"configuration {share}/configs/demo.yaml" in proc.stdout + proc.stderr,
          "the installed demo did not take its configuration from share/atrous")
    check(os.path.isfile(ctx.path("elsewhere", "d", "mask.h5")), "installed demo wrote no mask")


def test_mpi_refused(args):
    """A build without MPI (-DATROUS_MPI=OFF) launched as several ranks refuses, naming why; as one
    rank (mpirun -np 1) it runs. Registered for that build only."""
    ctx = Context(args, "mpi_refused")
    write_geotiff(ctx.path("scene.tif"))
    write_config(ctx)
    env = dict(os.environ, OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_RANK="0")
    proc = subprocess.run([args.atrous, "run", "run.yaml"], cwd=ctx.dir, env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    print(proc.stdout, proc.stderr)
    check(proc.returncode == 2, f"exit status {proc.returncode}, expected 2")
    check("built without MPI" in proc.stderr and "OMPI_COMM_WORLD_SIZE" in proc.stderr,
          "the refusal does not say why")
    check(len(proc.stderr.strip().splitlines()) == 1, "more than one line of error")
    check(not os.path.exists(ctx.path("out", "mask.h5")), "an output was written")
    env["OMPI_COMM_WORLD_SIZE"] = "1"
    proc = subprocess.run([args.atrous, "run", "run.yaml", "--quiet"], cwd=ctx.dir, env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    print(proc.stdout, proc.stderr)
    check(proc.returncode == 0, f"one rank: exit status {proc.returncode}")


def run_named_test(tests, doc):
    """The command line every e2e script shares: --atrous/--source/--work and a test name; runs
    tests["test_" + name]. Returns the exit status (0 pass, 1 fail, 2 unknown test)."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--atrous", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("test")
    args = p.parse_args()
    args.atrous = os.path.abspath(args.atrous)
    args.work = os.path.abspath(args.work)
    args.source = os.path.abspath(args.source)
    fn = tests.get("test_" + args.test)
    if fn is None:
        print(f"unknown test {args.test}")
        return 2
    try:
        fn(args)
    except Failure as e:
        print(f"FAIL {args.test}: {e}")
        return 1
    print(f"PASS {args.test}")
    return 0


if __name__ == "__main__":
    sys.exit(run_named_test(globals(), __doc__))
