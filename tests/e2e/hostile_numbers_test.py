#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: end-to-end tests of hostile numbers and environments (issue 11): bad weights, bad
# normalizations, tiles whose output is not finite, thread requests beyond the CPUs, rates from
# the work done, the places and limits messages name, `--version` and `info --json`.
"""atrous hostile-numbers end-to-end tests.

    hostile_numbers_test.py --atrous build/atrous --source . --work build/e2e-work TEST

Each test reproduces the case, then checks the exit status, the one-line message, and that no
output holding non-finite values was written. Exit 0 = pass, 1 = fail, 77 = skipped.
"""

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_test as e2e  # noqa: E402
from e2e_test import Context, check, one_line_error  # noqa: E402

SKIP = 77


def run_env(ctx, *argv, env=None, prefix=(), expect_rc=None):
    """Context.run with extra environment variables and a command prefix (taskset)."""
    full = dict(os.environ)
    full.update(env or {})
    proc = subprocess.run([*prefix, ctx.atrous, *argv], cwd=ctx.dir, capture_output=True,
                          text=True, timeout=540, stdin=subprocess.DEVNULL, env=full)
    print("$", " ".join([*prefix, "atrous", *argv]), env or "")
    print("rc", proc.returncode)
    print("--- stdout\n" + proc.stdout + "--- stderr\n" + proc.stderr + "---")
    if expect_rc is not None:
        check(proc.returncode == expect_rc, f"exit status {proc.returncode}, expected {expect_rc}")
    return proc


def model_with(ctx, name, change):
    """A copy of the e2e U-Net whose weights `change(model_weights_group)` edits (h5py)."""
    path = ctx.path(name)
    shutil.copyfile(ctx.model("unet_rgb3_full.h5"), path)
    with h5py.File(path, "r+") as f:
        change(f["model_weights"])
    return path


def kernel(group, layer):
    return group[f"{layer}/{layer}/kernel:0"]


def no_non_finite_output(ctx):
    """No published output; a partial one, if left, holds no non-finite value as valid data."""
    out = ctx.path("out", "mask.h5")
    check(not os.path.exists(out), f"{out} exists after a failed run")
    partial = out + ".partial"
    if os.path.exists(partial):
        with h5py.File(partial, "r") as f:
            done = f["progress/tile_done"][()]
            mask = f["mask"][()]
            prob = f["probability"][()]
        valid = mask != 255
        check(np.isfinite(prob[:, valid]).all(), "non-finite probabilities written as valid")
        print(f"partial output: {int(done.sum())} tiles done, all finite")


# --- 1. weights ------------------------------------------------------------------------------

def test_nan_weight(args):
    ctx = Context(args, "nan_weight")
    e2e.write_geotiff(ctx.path("scene.tif"))
    e2e.write_config(ctx)

    def poke(value, layer, index):
        def change(g):
            k = kernel(g, layer)
            a = k[()]
            a[index] = value
            k[...] = a
        return change

    cases = [("nan.h5", poke(np.nan, "conv2d_3", (0, 1, 0, 5)),
              "layer conv2d_3: kernel holds NaN at index (0,1,0,5)"),
             ("inf.h5", poke(-np.inf, "conv2d_18", (0, 0, 1, 2)),
              "layer conv2d_18: kernel holds -Inf at index (0,0,1,2)"),
             ("huge.h5", poke(3e38, "conv2d_1", (2, 2, 3, 3)),
              "layer conv2d_1: kernel holds 3e+38 (beyond the accepted magnitude 1e+15")]
    for name, change, needle in cases:
        path = model_with(ctx, name, change)
        proc = ctx.run("run", "run.yaml", "--set", f"model.weights={path}", expect_rc=4)
        one_line_error(proc, name, needle)
        e2e.no_output(ctx)
        # `atrous info` loads through the same check.
        proc = ctx.run("info", path, expect_rc=4)
        one_line_error(proc, name, needle)


# --- 2. normalization ------------------------------------------------------------------------

def test_bad_normalization(args):
    ctx = Context(args, "bad_normalization")
    e2e.write_geotiff(ctx.path("scene.tif"))
    e2e.write_config(ctx)
    cases = [(["input.normalize={mean: 0, std: 1e-320}"], "--set input.normalize", "1e-320"),
             (["input.normalize.scale=1e308"], "--set input.normalize.scale", "1e+308"),
             (["input.normalize={mean: 1e30, std: 1e-20}"], "--set input.normalize", "1e+30")]
    for sets, where, value in cases:
        argv = ["run", "run.yaml"]
        for s in sets:
            argv += ["--set", s]
        proc = ctx.run(*argv, expect_rc=2)
        line = one_line_error(proc, where, value, "float32")
        check("not be finite" in line, f"the message does not say why: {line}")
        e2e.no_output(ctx)
    # Finite numbers that overflow on the input's own range (UInt16 up to 65535): refused once
    # the data type is known, before any output exists.
    proc = ctx.run("run", "run.yaml", "--set", "input.normalize.scale=1e35", expect_rc=2)
    one_line_error(proc, "input.normalize", "UInt16", "65535", "float32")
    e2e.no_output(ctx)
    # A Float32 input: its range is the data's; a value the scale takes beyond float32 stops
    # the run at that pixel (exit 2), before anything is written.
    from osgeo import gdal
    data = np.ones((3, e2e.HEIGHT, e2e.WIDTH), dtype=np.float32)
    data[1, 150, 250] = 3e37
    ds = gdal.GetDriverByName("GTiff").Create(ctx.path("float.tif"), e2e.WIDTH, e2e.HEIGHT, 3,
                                              gdal.GDT_Float32, ["TILED=YES"])
    ds.SetGeoTransform(e2e.GEOTRANSFORM)
    srs = gdal.osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    ds.WriteRaster(0, 0, e2e.WIDTH, e2e.HEIGHT, data.tobytes())
    ds = None
    proc = ctx.run("run", "run.yaml", "--set", "input.path=float.tif", "--set",
                   "input.normalize.scale=100", expect_rc=2)
    one_line_error(proc, "input.normalize", "band 2", "(x 250, y 150)", "float32")
    check(not os.path.exists(ctx.path("out", "mask.h5")), "an output was published")


# --- 3. a tile whose output is not finite ----------------------------------------------------

def overflowing_model(ctx):
    """Weights below the load bound (1e15) that still overflow float32 a few layers in."""
    def change(g):
        for layer in ("conv2d", "conv2d_1", "conv2d_2", "conv2d_3"):
            k = kernel(g, layer)
            k[...] = k[()] * np.float32(1e12)
    return model_with(ctx, "overflow.h5", change)


def test_non_finite_tile(args):
    ctx = Context(args, "non_finite_tile")
    e2e.write_geotiff(ctx.path("scene.tif"))
    e2e.write_config(ctx)
    path = overflowing_model(ctx)
    def refused(*sets, needles):
        """A run refused with exit 4, one line naming the value, no non-finite output left."""
        if os.path.exists(ctx.path("out")):
            shutil.rmtree(ctx.path("out"))  # another executor's partial is not resumed
        os.makedirs(ctx.path("out"))
        proc = ctx.run("run", "run.yaml", "--set", f"model.weights={path}", *sets, expect_rc=4)
        line = one_line_error(proc, *needles)
        check("NaN" in line or "Inf" in line, f"the message does not name the value: {line}")
        no_non_finite_output(ctx)

    # The default executor here is the stream: it names the first non-finite output pixel; the
    # tile executor names the tile and its input window.
    refused(needles=("infer: stream: ", "the network output holds ", "at pixel (x ",
                     "tile.executor: tiles with --debug"))
    tiles = ("--set", "tile.executor=tiles")
    refused(*tiles, needles=("infer: tile ", "input window x ", "the network output holds ",
                             "--debug"))

    # --debug: the tile is run again layer by layer; the first layer that went non-finite is
    # named (the exception then escapes main() on purpose: a signal, not exit 4).
    shutil.rmtree(ctx.path("out"))
    os.makedirs(ctx.path("out"))
    proc = ctx.run("run", "run.yaml", "--set", f"model.weights={path}", *tiles, "--debug")
    check(proc.returncode != 0, "--debug: the run succeeded")
    check("the first layer whose output went non-finite: conv2d" in proc.stderr,
          "--debug does not name the first non-finite layer")
    no_non_finite_output(ctx)


# --- 4. threads ------------------------------------------------------------------------------

def test_threads_bound(args):
    ctx = Context(args, "threads_bound")
    if shutil.which("taskset") is None:
        print("SKIP: no taskset")
        sys.exit(SKIP)
    # One CPU this process may already use (a container's cpuset need not hold CPU 0).
    cpu = str(min(os.sched_getaffinity(0)))
    e2e.write_geotiff(ctx.path("scene.tif"))
    e2e.write_config(ctx)
    # runtime.threads: 0 with an absurd SLURM_CPUS_PER_TASK, on one CPU.
    for i, (sets, env, needle) in enumerate([
            (["runtime.threads=0"], {"SLURM_CPUS_PER_TASK": "99999999"},
             "threads 1 (SLURM_CPUS_PER_TASK 99999999 cut to 1, the CPUs this process may run on"),
            (["runtime.threads=0"], {"SLURM_CPUS_PER_TASK": "2147483647"},
             "threads 1 (SLURM_CPUS_PER_TASK 2147483647 cut to 1"),
            (["runtime.threads=64"], {}, "threads 1 (runtime.threads 64 cut to 1"),
            (["runtime.threads=0"], {}, "threads 1 (")]):
        out = f"out/t{i}.h5"
        argv = ["run", "run.yaml", "--set", f"output.path={out}", "--no-preview"]
        for s in sets:
            argv += ["--set", s]
        proc = run_env(ctx, *argv, env=env, prefix=("taskset", "-c", cpu), expect_rc=0)
        check(needle in proc.stdout, f"the plan summary lacks {needle!r}")
        with open(ctx.path("out", f"t{i}.report.json")) as f:
            report = json.load(f)
        check(report["threads"] == 1, f"report threads {report['threads']}, expected 1")
    # A value beyond every bound is still refused when it is not a number.
    proc = run_env(ctx, "run", "run.yaml", "--set", "runtime.threads=0",
                   env={"SLURM_CPUS_PER_TASK": "lots"}, expect_rc=2)
    one_line_error(proc, "SLURM_CPUS_PER_TASK", "lots")


# --- 5. rates from the work done -------------------------------------------------------------

def test_rates_skip_empty(args):
    ctx = Context(args, "rates_skip_empty")
    # Everything nodata except a 20 x 20 px patch: one tile of 20 is inferred.
    data = e2e.write_geotiff(ctx.path("scene.tif"), nodata_rect=None)
    data[:] = 0
    data[:, 100:120, 100:120] = 500
    from osgeo import gdal
    ds = gdal.Open(ctx.path("scene.tif"), gdal.GA_Update)
    for b in range(data.shape[0]):
        ds.GetRasterBand(b + 1).WriteArray(data[b])
    ds = None
    e2e.write_config(ctx)
    ctx.run("run", "run.yaml", "--no-preview", expect_rc=0)
    with open(ctx.path("out", "mask.report.json")) as f:
        sparse = json.load(f)
    info = json.loads(ctx.run("info", "--config", "run.yaml", "--json", expect_rc=0).stdout)
    full_tile = info["gflop_per_tile"]
    t = sparse["tiles"]
    check(t["total"] == 20 and t["inferred"] == t["computed"] - t["skipped_empty"],
          f"tiles {t}")
    check(1 <= t["inferred"] <= 4, f"{t['inferred']} tiles inferred for one 20 px patch")
    # GFLOP counts the tiles inferred only (a full window is the most a tile costs).
    check(0 < sparse["gflop"] <= t["inferred"] * full_tile * 1.0001,
          f"gflop {sparse['gflop']} for {t['inferred']} tiles of at most {full_tile}")
    wall = sparse["seconds"]["wall"]
    tp = sparse["throughput"]
    check(abs(tp["gflop_per_s"] - sparse["gflop"] / wall) < 1e-6 * tp["gflop_per_s"] + 1e-9,
          "gflop_per_s is not gflop / wall")
    check(abs(tp["tiles_per_s"] - t["computed"] / wall) < 1e-6 * tp["tiles_per_s"] + 1e-9,
          "tiles_per_s is not the tiles computed / wall")


# --- 6. places and limits in messages --------------------------------------------------------

def test_messages(args):
    ctx = Context(args, "messages")
    e2e.write_geotiff(ctx.path("scene.tif"))
    e2e.write_config(ctx)
    proc = ctx.run("run", "run.yaml", "--set", "foo.bar=1", expect_rc=2)
    line = one_line_error(proc, "atrous: --set foo.bar: unknown key")
    check("run.yaml" not in line, f"--set blamed on the file: {line}")
    proc = ctx.run("run", "run.yaml", "--set", "tile.halo=70000", expect_rc=2)
    one_line_error(proc, "--set tile.halo", "0..65536", "70000")
    e2e.no_output(ctx)


# --- 7. --version and info --json ------------------------------------------------------------

def test_version_info_json(args):
    ctx = Context(args, "version_info_json")
    proc = ctx.run("--version", expect_rc=0)
    lines = proc.stdout.splitlines()
    check(lines[0].startswith("atrous "), "--version: first line")
    for key in ("commit", "GDAL", "HDF5", "MPI", "TBB", "yaml-cpp", "kernels"):
        found = [l for l in lines if l.split(" ")[0] == key]
        check(len(found) == 1 and len(found[0].split()) >= 2, f"--version lacks {key}")
    check("conv2d" in proc.stdout, "--version does not name the conv2d kernel")

    model = ctx.model("unet_rgb3_full.h5")
    text = ctx.run("info", model, "--tile", "64", expect_rc=0).stdout
    j = json.loads(ctx.run("info", model, "--tile", "64", "--json", expect_rc=0).stdout)
    check(j["model"] in text and j["source"] == model, "info --json: model and source")
    check(j["tile"] == {"size": 64, "halo_px": 96, "halo_from": "exact",
                        "window": [256, 256, 3]}, f"info --json tile {j['tile']}")
    check(all(l["name"] in text for l in j["layers"]), "info --json: layers not in the text")
    check(f"{j['params']:,}" in text, "info --json: params differ from the text")
    check(f"{j['gflop_per_tile']:.2f}" in text, "info --json: GFLOP differ from the text")
    check(j["halo_px"] == 96 and j["output"]["channels"] == 3, "info --json: facts")


if __name__ == "__main__":
    sys.exit(e2e.run_named_test(globals(), __doc__))
