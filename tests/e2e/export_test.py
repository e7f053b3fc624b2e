#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: end-to-end tests of `atrous export`, `atrous preview` and the run report (one per call).
"""atrous export/preview/report end-to-end tests.

    export_test.py --atrous build/atrous --source . --work build/e2e-work TEST

Reuses e2e_test.py's generated GeoTIFF and configuration. Exit 0 = pass, 1 = fail, 77 = skip.
"""

import fcntl
import json
import os
import stat
import struct
import subprocess
import sys
import time

import h5py
import numpy as np
from osgeo import gdal, ogr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_test as e2e  # noqa: E402
from e2e_test import Context, check, one_line_error  # noqa: E402

gdal.UseExceptions()


def gdalinfo_json(path):
    proc = subprocess.run(["gdalinfo", "-json", path], capture_output=True, text=True, timeout=120)
    check(proc.returncode == 0, f"gdalinfo failed on {path}: {proc.stderr}")
    return json.loads(proc.stdout)


def run_scene(ctx, bands=3, extra_sets=()):
    e2e.write_geotiff(ctx.path("scene.tif"), bands=bands)
    e2e.write_config(ctx)
    ctx.run("run", "run.yaml", *extra_sets, expect_rc=0)
    return ctx.path("out", "mask.h5")


def check_georeferenced(info, what):
    check(tuple(info["geoTransform"]) == e2e.GEOTRANSFORM,
          f"{what}: geotransform {info['geoTransform']}")
    wkt = info["coordinateSystem"]["wkt"]
    check("UTM zone 33N" in wkt, f"{what}: CRS lost: {wkt[:80]}")
    check(info["size"] == [e2e.WIDTH, e2e.HEIGHT], f"{what}: size {info['size']}")


def test_export_mask(args):
    ctx = Context(args, "export_mask")
    out = run_scene(ctx)
    ctx.run("export", out, "--to", "mask.tif", "--polygons", "mask.gpkg", expect_rc=0)
    check(not os.path.exists(ctx.path("mask.tif.partial")), "a .partial file is left")
    info = gdalinfo_json(ctx.path("mask.tif"))
    print(json.dumps({k: info[k] for k in ("metadata", "bands")}, indent=1)[:3000])
    check_georeferenced(info, "mask.tif")
    check(info["metadata"]["IMAGE_STRUCTURE"]["COMPRESSION"] == "DEFLATE", "not DEFLATE")
    band = info["bands"][0]
    check(len(info["bands"]) == 1 and band["type"] == "Byte", "mask.tif: one Byte band expected")
    check(band["block"] == [256, 256], f"not tiled 256 x 256: {band['block']}")
    check(band["noDataValue"] == 255, f"nodata {band.get('noDataValue')}")
    check(len(band.get("overviews", [])) == 1, f"overviews {band.get('overviews')}")
    check(band["overviews"][0]["size"] == [151, 99], "overview size")

    with h5py.File(out, "r") as f:
        mask = f["mask"][()]
    ds = gdal.Open(ctx.path("mask.tif"))
    got = ds.GetRasterBand(1).ReadAsArray()
    check(np.array_equal(got, mask), "GeoTIFF pixels differ from /mask")
    # Nearest overview: every overview pixel is one of the mask's values.
    ov = ds.GetRasterBand(1).GetOverview(0).ReadAsArray()
    check(set(np.unique(ov)) <= set(np.unique(mask)), "overview invents values (not nearest)")
    ds = None

    # Polygons: one field 'class', only valid classes, area = valid pixels, CRS kept.
    vec = ogr.Open(ctx.path("mask.gpkg"))
    layer = vec.GetLayerByName("mask")
    check(layer is not None, "no layer 'mask'")
    defn = layer.GetLayerDefn()
    check(defn.GetFieldIndex("class") >= 0, "no field 'class'")
    check("UTM zone 33N" in layer.GetSpatialRef().ExportToWkt(), "polygons lost the CRS")
    area = {}
    for feat in layer:
        c = feat.GetField("class")
        area[c] = area.get(c, 0.0) + feat.GetGeometryRef().GetArea()
    pixel = abs(e2e.GEOTRANSFORM[1] * e2e.GEOTRANSFORM[5])
    print("polygon area per class", area)
    check(255 not in area, "nodata was polygonized")
    for c in np.unique(mask):
        if c == 255:
            continue
        want = (mask == c).sum() * pixel
        check(abs(area.get(int(c), 0) - want) < 1e-6 * want + 1e-9,
              f"class {c}: polygon area {area.get(int(c))} != {want}")


def test_export_cog_probability(args):
    ctx = Context(args, "export_cog_probability")
    out = run_scene(ctx)
    ctx.run("export", out, "--to", "prob.tif", "--what", "probability", "--cog", expect_rc=0)
    info = gdalinfo_json(ctx.path("prob.tif"))
    check_georeferenced(info, "prob.tif")
    check(info["metadata"]["IMAGE_STRUCTURE"].get("LAYOUT") == "COG", "not a COG")
    check(info["metadata"]["IMAGE_STRUCTURE"]["COMPRESSION"] == "DEFLATE", "not DEFLATE")
    check(len(info["bands"]) == 3, "3 probability bands expected")
    for band in info["bands"]:
        check(band["type"] == "Float32", f"type {band['type']}")
        check(band["block"] == [256, 256], f"block {band['block']}")
        check(str(band["noDataValue"]).lower() == "nan", f"nodata {band['noDataValue']}")
        check(len(band.get("overviews", [])) == 1, "COG without overviews")
    with h5py.File(out, "r") as f:
        prob = f["probability"][()]
    got = gdal.Open(ctx.path("prob.tif")).ReadAsArray()
    check(np.array_equal(np.isnan(got), np.isnan(prob)), "nodata differs")
    check(np.array_equal(got[~np.isnan(got)], prob[~np.isnan(prob)]), "probabilities differ")

    # A mask COG too (the mask band's overviews are nearest).
    ctx.run("export", out, "--to", "mask_cog.tif", "--cog", expect_rc=0)
    info = gdalinfo_json(ctx.path("mask_cog.tif"))
    check(info["metadata"]["IMAGE_STRUCTURE"].get("LAYOUT") == "COG", "mask: not a COG")
    check(info["bands"][0]["noDataValue"] == 255, "mask COG nodata")


def test_export_errors(args):
    ctx = Context(args, "export_errors")
    out = run_scene(ctx, extra_sets=("--set", "output.probabilities=none"))
    proc = ctx.run("export", "nothere.h5", "--to", "x.tif", expect_rc=3)
    one_line_error(proc, "nothere.h5", "no such file")
    proc = ctx.run("export", ctx.path("scene.tif"), "--to", "x.tif", expect_rc=3)
    one_line_error(proc, "scene.tif", "not an HDF5 file")
    proc = ctx.run("export", out, "--to", "x.tif", "--what", "probability", expect_rc=3)
    one_line_error(proc, "mask.h5", "no probabilities")
    os.makedirs(ctx.path("adir"))
    proc = ctx.run("export", out, "--to", "adir", expect_rc=5)
    one_line_error(proc, "adir", "is a directory")
    proc = ctx.run("export", out, "--to", "nodir/x.tif", expect_rc=5)
    one_line_error(proc, "nodir", "no such directory")
    proc = ctx.run("export", out, expect_rc=2)
    one_line_error(proc, "--to", "--polygons")
    check(not os.path.exists(ctx.path("x.tif")), "x.tif written after an error")


def test_export_gdal_options(args):
    """-of / -co / --config pass to GDALTranslate, -f / -lco to GDALVectorTranslate; the mask
    carries a colour table, class names and a RAT; --skip-background drops class 0 polygons."""
    ctx = Context(args, "export_gdal_options")
    out = run_scene(ctx)
    with h5py.File(out, "r") as f:
        mask = f["mask"][()]
    # -co overrides one default by name, the others stay (tiles of 256, nodata).
    ctx.run("export", out, "--to", "lzw.tif", "-co", "COMPRESS=LZW", expect_rc=0)
    info = gdalinfo_json(ctx.path("lzw.tif"))
    check(info["metadata"]["IMAGE_STRUCTURE"]["COMPRESSION"] == "LZW", "-co COMPRESS=LZW ignored")
    check(info["bands"][0]["block"] == [256, 256], "the other GTiff defaults were dropped")
    check_georeferenced(info, "lzw.tif")
    # Colour table, class names and RAT of the mask.
    ds = gdal.Open(ctx.path("lzw.tif"))
    band = ds.GetRasterBand(1)
    check(band.GetColorInterpretation() == gdal.GCI_PaletteIndex, "mask: not a palette band")
    ct = band.GetColorTable()
    check(ct is not None and ct.GetColorEntry(1)[:3] == (230, 25, 75), "mask: colour table")
    names = band.GetCategoryNames()
    check(names is not None and names[:3] == ["background", "class 1", "class 2"],
          f"mask: class names {names}")
    rat = band.GetDefaultRAT()
    check(rat is not None and rat.GetRowCount() == 3 and rat.GetValueAsString(2, 1) == "class 2",
          "mask: raster attribute table")
    ds = None
    # --config KEY VALUE reaches GDAL: without PAM there is no .aux.xml (no names then).
    check(os.path.exists(ctx.path("lzw.tif.aux.xml")), "class names: no .aux.xml by default")
    ctx.run("export", out, "--to", "nopam.tif", "--config", "GDAL_PAM_ENABLED", "NO",
            expect_rc=0)
    check(not os.path.exists(ctx.path("nopam.tif.aux.xml")), "--config GDAL_PAM_ENABLED NO ignored")
    # -of COG equals --cog.
    ctx.run("export", out, "--to", "cog.tif", "-of", "COG", expect_rc=0)
    check(gdalinfo_json(ctx.path("cog.tif"))["metadata"]["IMAGE_STRUCTURE"].get("LAYOUT") ==
          "COG", "-of COG is not a COG")
    # Any raster driver: Zarr (a directory), georeferenced.
    if gdal.GetDriverByName("Zarr") is not None:
        ctx.run("export", out, "--to", "mask.zarr", "-of", "Zarr", expect_rc=0)
        zds = gdal.Open(ctx.path("mask.zarr"))
        check(zds.GetGeoTransform() == e2e.GEOTRANSFORM, f"Zarr geotransform {zds.GetGeoTransform()}")
        check("UTM zone 33N" in zds.GetProjectionRef(), "Zarr CRS")
        check(np.array_equal(zds.ReadAsArray(), mask), "Zarr pixels")
    # Vectors: the format from the extension (FlatGeobuf), -f and -lco, --skip-background.
    ctx.run("export", out, "--polygons", "p.fgb", expect_rc=0)
    vec = ogr.Open(ctx.path("p.fgb"))
    check(vec.GetDriver().GetName() == "FlatGeobuf", f"p.fgb: {vec.GetDriver().GetName()}")
    classes = {feat.GetField("class") for feat in vec.GetLayer(0)}
    check(classes == {int(c) for c in np.unique(mask) if c != 255}, f"fgb classes {classes}")
    vec = None
    ctx.run("export", out, "--polygons", "fg.data", "-f", "GPKG", "-lco", "GEOMETRY_NAME=shape",
            "--skip-background", expect_rc=0)
    vec = ogr.Open(ctx.path("fg.data"))
    check(vec.GetDriver().GetName() == "GPKG", "-f GPKG ignored")
    layer = vec.GetLayerByName("mask")
    check(layer.GetGeometryColumn() == "shape", f"-lco ignored: {layer.GetGeometryColumn()}")
    classes = {feat.GetField("class") for feat in layer}
    check(0 not in classes and classes, f"--skip-background: classes {classes}")
    vec = None
    # GDAL refuses: a usage error, one line, exit 2, nothing written.
    proc = ctx.run("export", out, "--to", "bad.tif", "-of", "NoSuchDriver", expect_rc=2)
    one_line_error(proc, "-of NoSuchDriver")
    proc = ctx.run("export", out, "--to", "bad.tif", "-co", "NOEQUALS", expect_rc=2)
    one_line_error(proc, "-co", "NOEQUALS")
    check(not os.path.exists(ctx.path("bad.tif")), "bad.tif written after an error")
    check_no_staging(ctx)


# --- export never destroys what is not its own (issue 11) ---------------------------------------

VICTIM = b"somebody else's file\n"


def plant_victim(ctx):
    with open(ctx.path("victim.txt"), "wb") as f:
        f.write(VICTIM)


def victim_intact(ctx):
    with open(ctx.path("victim.txt"), "rb") as f:
        check(f.read() == VICTIM, "the victim file was changed")


def check_no_staging(ctx):
    left = [n for n in os.listdir(ctx.dir) if ".atrous-" in n]
    check(not left, f"staging directories left: {left}")


def test_export_symlink_temp(args):
    """A link planted at the temporary names export used to write (.partial) is never followed."""
    ctx = Context(args, "export_symlink_temp")
    out = run_scene(ctx)
    plant_victim(ctx)
    for name in ("m.tif.partial", "m.tif.partial.tif", "p.gpkg.partial", "p.gpkg.mask.tif"):
        os.symlink(ctx.path("victim.txt"), ctx.path(name))
    ctx.run("export", out, "--to", "m.tif", "--polygons", "p.gpkg", "--cog", expect_rc=0)
    victim_intact(ctx)
    check(os.path.isfile(ctx.path("m.tif")) and not os.path.islink(ctx.path("m.tif")), "m.tif")
    check_no_staging(ctx)


def test_export_symlink_destination(args):
    """A destination (or its sidecar) that is a symbolic link is refused, the link kept."""
    ctx = Context(args, "export_symlink_destination")
    out = run_scene(ctx)
    plant_victim(ctx)
    os.symlink(ctx.path("victim.txt"), ctx.path("m.tif"))
    proc = ctx.run("export", out, "--to", "m.tif", expect_rc=5)
    one_line_error(proc, "m.tif", "symbolic link")
    os.symlink(ctx.path("victim.txt"), ctx.path("n.tif.aux.xml"))
    proc = ctx.run("export", out, "--to", "n.tif", expect_rc=5)
    one_line_error(proc, "n.tif.aux.xml", "symbolic link")
    check(not os.path.exists(ctx.path("n.tif")), "n.tif published beside a refused sidecar")
    os.symlink(ctx.path("victim.txt"), ctx.path("p.gpkg"))
    proc = ctx.run("export", out, "--polygons", "p.gpkg", expect_rc=5)
    one_line_error(proc, "p.gpkg", "symbolic link")
    victim_intact(ctx)
    check(os.path.islink(ctx.path("m.tif")), "the link was replaced")
    check_no_staging(ctx)


def test_export_same_inode(args):
    """The input under another spelling (a symlinked directory, a hard link) is never the
    destination: identity is device + inode."""
    ctx = Context(args, "export_same_inode")
    out = run_scene(ctx)
    with open(out, "rb") as f:
        before = f.read()
    os.symlink(ctx.dir, ctx.path("alias"))
    proc = ctx.run("export", out, "--to", os.path.join("alias", "out", "mask.h5"), expect_rc=2)
    one_line_error(proc, "mask.h5", "is the input file")
    os.link(out, ctx.path("hard.h5"))
    proc = ctx.run("export", out, "--polygons", "hard.h5", expect_rc=2)
    one_line_error(proc, "hard.h5", "is the input file")
    with open(out, "rb") as f:
        check(f.read() == before, "the input .h5 was changed")
    check_no_staging(ctx)


def test_export_non_regular(args):
    """A FIFO or a directory at the destination is never replaced."""
    ctx = Context(args, "export_non_regular")
    out = run_scene(ctx)
    os.mkfifo(ctx.path("fifo.tif"))
    proc = ctx.run("export", out, "--to", "fifo.tif", expect_rc=5)
    one_line_error(proc, "fifo.tif", "not a regular file")
    check(stat.S_ISFIFO(os.lstat(ctx.path("fifo.tif")).st_mode), "the FIFO was replaced")
    os.makedirs(ctx.path("d.gpkg"))
    proc = ctx.run("export", out, "--polygons", "d.gpkg", expect_rc=5)
    one_line_error(proc, "d.gpkg", "is a directory")
    check(os.path.isdir(ctx.path("d.gpkg")), "the directory was replaced")
    check_no_staging(ctx)


def test_export_partial(args):
    """An unfinished .partial says how far it got and is refused unless --allow-partial."""
    ctx = Context(args, "export_partial")
    out = run_scene(ctx)
    partial = ctx.path("out", "cut.h5.partial")
    with open(out, "rb") as src, open(partial, "wb") as dst:
        dst.write(src.read())
    with h5py.File(partial, "r+") as f:
        done = f["progress/tile_done"]
        done[0:3] = 0
        total = done.shape[0]
    proc = ctx.run("export", partial, "--to", "cut.tif", expect_rc=3)
    one_line_error(proc, "cut.h5.partial", f"incomplete: {total - 3} of {total} tiles done",
                   "--allow-partial")
    check(not os.path.exists(ctx.path("cut.tif")), "cut.tif written from an unfinished output")
    proc = ctx.run("export", partial, "--to", "cut.tif", "--allow-partial", expect_rc=0)
    check("incomplete" in proc.stdout + proc.stderr, "--allow-partial does not warn")
    check(os.path.exists(ctx.path("cut.tif")), "--allow-partial wrote nothing")


# --- quick-look PNG ------------------------------------------------------------------------------

def read_png(path):
    ds = gdal.Open(path)
    check(ds.GetDriver().ShortName == "PNG", f"{path} is not a PNG")
    check(ds.RasterCount == 3, f"{path}: {ds.RasterCount} bands, RGB expected")
    return ds.ReadAsArray().astype(int)  # 3 x H x W


def check_overlay(rgb, mask, with_image):
    r, g, b = rgb
    ones = mask == 1
    zeros = mask == 0
    nodata = mask == 255
    check(ones.any() and zeros.any() and nodata.any(), "test mask lacks a class")
    # Class 1 is tinted red; class 0 is the plain image (grey: R = G = B for one band).
    check(((r - g)[ones] > 60).all(), "class 1 pixels are not coloured red")
    check((r[zeros] == g[zeros]).all() and (g[zeros] == b[zeros]).all(),
          "class 0 pixels are not plain grey")
    check((rgb[:, nodata] < 80).all(), "nodata pixels are not dark")
    if with_image:
        check(len(np.unique(r[zeros])) > 20, "the image is not visible under the mask")
    else:
        check((r[zeros] == 96).all(), "mask-only preview: class 0 is not the plain grey")


def run_one_band(ctx):
    e2e.write_geotiff(ctx.path("scene.tif"), bands=1)
    e2e.write_config(ctx, weights=ctx.model("unet_d5_full.h5"))
    return ctx.run("run", "run.yaml", "--log-format", "plain", expect_rc=0)


def test_preview(args):
    ctx = Context(args, "preview")
    proc = run_one_band(ctx)
    png = ctx.path("out", "mask.png")
    check(os.path.exists(png), "atrous run wrote no <stem>.png")
    check("preview: " + png in proc.stdout, "run does not say where the preview is")
    with h5py.File(ctx.path("out", "mask.h5"), "r") as f:
        mask = f["mask"][()]
    rgb = read_png(png)
    # The scene is smaller than 1024 px: the PNG has its size, pixel for pixel.
    check(rgb.shape == (3, e2e.HEIGHT, e2e.WIDTH), f"PNG shape {rgb.shape}")
    check_overlay(rgb, mask, with_image=True)

    # `atrous preview` with a size limit: the long side shrinks to it, aspect kept.
    ctx.run("preview", ctx.path("out", "mask.h5"), "--out", "small.png", "--size", "100",
            expect_rc=0)
    small = read_png(ctx.path("small.png"))
    check(small.shape == (3, 65, 100), f"small PNG shape {small.shape}")

    # Input gone: the mask alone.
    os.remove(ctx.path("scene.tif"))
    proc = ctx.run("preview", ctx.path("out", "mask.h5"), "--out", "alone.png", expect_rc=0)
    check("mask only" in proc.stdout, "preview does not say it drew the mask only")
    check_overlay(read_png(ctx.path("alone.png")), mask, with_image=False)

    proc = ctx.run("preview", "nothere.h5", expect_rc=3)
    one_line_error(proc, "nothere.h5")
    proc = ctx.run("run", "run.yaml", "--set", "output.path=out/b.h5", "--no-preview",
                   expect_rc=3)  # the input is gone now
    check(not os.path.exists(ctx.path("out", "b.png")), "a failed run wrote a preview")


# --- run report ---------------------------------------------------------------------------------

def test_report(args):
    ctx = Context(args, "report")
    run_one_band(ctx)
    path = ctx.path("out", "mask.report.json")
    check(os.path.exists(path), "no <stem>.report.json")
    with open(path) as f:
        rep = json.load(f)
    print(json.dumps(rep, indent=1))
    # 301 x 197 px in 64 px tiles: 5 x 4 = 20 tiles, the 90 x 70 nodata corner skips 1 of them.
    check(rep["tiles"] == {"total": 20, "done": 20, "computed": 20, "skipped_empty": 1,
                           "inferred": 19}, f"tiles {rep['tiles']}")
    sec = rep["seconds"]
    for k in ["wall", "read", "infer", "stitch", "write"]:
        check(isinstance(sec[k], (int, float)) and sec[k] >= 0, f"seconds.{k} {sec.get(k)}")
    check(sec["wall"] > 0 and sec["infer"] > 0, "wall or infer time is 0")
    # Stage sums run on at most `threads` threads at once.
    check(sec["read"] + sec["infer"] <= rep["threads"] * sec["wall"] * 1.05 + 0.05,
          "read + infer exceed threads x wall")
    check(rep["threads"] == 2 and rep["ranks"] == 1, "threads/ranks")
    check(rep["pixels"] == e2e.WIDTH * e2e.HEIGHT, "pixels")
    tp = rep["throughput"]
    check(abs(tp["mpx_per_s"] - rep["pixels"] / 1e6 / sec["wall"]) < 1e-6 * tp["mpx_per_s"] + 1e-9,
          "Mpx/s is not pixels / wall")
    check(abs(tp["gflop_per_s"] - rep["gflop"] / sec["wall"]) < 1e-6 * tp["gflop_per_s"] + 1e-9,
          "GFLOP/s is not gflop / wall")
    check(rep["gflop"] > 0, "gflop")
    check(10 < rep["peak_rss_mb"] < 4096, f"peak_rss_mb {rep['peak_rss_mb']}")
    check(len(rep["per_rank"]) == 1 and rep["per_rank"][0]["rank"] == 0, "per_rank")
    check(rep["output"] == ctx.path("out", "mask.h5"), "output path")
    check(rep["input"] == ctx.path("scene.tif"), "input path")


# --- hostile input: one clear line, non-zero exit, no file at output.path ------------------------

def output_absent(ctx, output="out/mask.h5"):
    check(not os.path.exists(ctx.path(output)), f"{output} exists after a failed run")
    check(not os.path.exists(ctx.path(output) + ".lock"), "the lock file is left")


def tiff_set_tag(data, tag, value):
    """Overwrites the value of a SHORT/LONG tag of a classic little-endian TIFF's first IFD."""
    data = bytearray(data)
    off = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[off:off + 2])[0]):
        p = off + 2 + 12 * i
        t, typ, _count, _v = struct.unpack("<HHII", data[p:p + 12])
        if t == tag:
            struct.pack_into("<H" if typ == 3 else "<I", data, p + 8, value)
            return data
    raise e2e.Failure(f"tag {tag} not found")


def write_strip_tiff(path, width=96, height=64):
    ds = gdal.GetDriverByName("GTiff").Create(path, width, height, 3, gdal.GDT_UInt16, [])
    # Georeferenced: an input without a CRS runs with a warning, which is not what these test.
    ds.SetGeoTransform(e2e.GEOTRANSFORM)
    srs = gdal.osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    ds.WriteRaster(0, 0, width, height, np.full((3, height, width), 7, np.uint16).tobytes())
    ds = None


def test_hostile_truncated_tiff(args):
    ctx = Context(args, "hostile_truncated_tiff")
    e2e.write_geotiff(ctx.path("full.tif"))
    with open(ctx.path("full.tif"), "rb") as f:
        data = f.read()
    with open(ctx.path("scene.tif"), "wb") as f:
        f.write(data[:len(data) // 2])
    e2e.write_config(ctx)
    proc = ctx.run("run", "run.yaml", expect_rc=3)
    one_line_error(proc, ctx.path("scene.tif"))
    output_absent(ctx)


def test_hostile_header_larger(args):
    """The header says 6400 x 4800 px; the strips hold 96 x 64."""
    ctx = Context(args, "hostile_header_larger")
    write_strip_tiff(ctx.path("small.tif"))
    with open(ctx.path("small.tif"), "rb") as f:
        data = tiff_set_tag(tiff_set_tag(f.read(), 256, 6400), 257, 4800)
    with open(ctx.path("scene.tif"), "wb") as f:
        f.write(data)
    e2e.write_config(ctx, tile_size=256)
    proc = ctx.run("run", "run.yaml", expect_rc=3)
    one_line_error(proc, ctx.path("scene.tif"))
    output_absent(ctx)


def test_hostile_zero_size(args):
    """GDAL refuses to create a 0 x 0 raster, so the header of a real one is edited to 0 x 0."""
    ctx = Context(args, "hostile_zero_size")
    write_strip_tiff(ctx.path("small.tif"))
    with open(ctx.path("small.tif"), "rb") as f:
        data = tiff_set_tag(tiff_set_tag(f.read(), 256, 0), 257, 0)
    with open(ctx.path("scene.tif"), "wb") as f:
        f.write(data)
    e2e.write_config(ctx)
    proc = ctx.run("run", "run.yaml", expect_rc=3)
    one_line_error(proc, ctx.path("scene.tif"))
    output_absent(ctx)
    # A VRT may declare 0 x 0 too.
    with open(ctx.path("zero.vrt"), "w") as f:
        f.write('<VRTDataset rasterXSize="0" rasterYSize="0">'
                '<VRTRasterBand dataType="Byte" band="1"/></VRTDataset>')
    proc = ctx.run("run", "run.yaml", "--set", f"input.path={ctx.path('zero.vrt')}", expect_rc=3)
    one_line_error(proc, ctx.path("zero.vrt"))
    output_absent(ctx)


def test_hostile_nan_inf(args):
    """NaN and +-Inf pixels are nodata; the run succeeds."""
    ctx = Context(args, "hostile_nan_inf")
    rng = np.random.default_rng(3)
    data = rng.random((3, e2e.HEIGHT, e2e.WIDTH), dtype=np.float32)
    data[0, 10:20, 100:140] = np.nan
    data[1, 50:60, 200:210] = np.inf
    data[2, 150, :] = -np.inf
    bad = ~np.isfinite(data).all(axis=0)
    ds = gdal.GetDriverByName("GTiff").Create(ctx.path("scene.tif"), e2e.WIDTH, e2e.HEIGHT, 3,
                                              gdal.GDT_Float32, ["TILED=YES"])
    ds.SetGeoTransform(e2e.GEOTRANSFORM)
    ds.WriteRaster(0, 0, e2e.WIDTH, e2e.HEIGHT, data.tobytes())
    ds = None
    e2e.write_config(ctx)
    ctx.run("run", "run.yaml", "--set", "input.normalize.scale=1", expect_rc=0)
    with h5py.File(ctx.path("out", "mask.h5"), "r") as f:
        mask = f["mask"][()]
        prob = f["probability"][()]
    check((mask[bad] == 255).all(), "NaN/Inf pixels are not nodata in /mask")
    check((mask[~bad] < 3).all(), "finite pixels are not classified")
    check(np.isfinite(prob[:, ~bad]).all(), "NaN/Inf leaked into the probabilities of valid pixels")


def test_hostile_weights(args):
    ctx = Context(args, "hostile_weights")
    e2e.write_geotiff(ctx.path("scene.tif"))
    e2e.write_config(ctx)
    cases = [("not_keras.h5", []), ("truncated_full.h5", []),
             ("broken_cycle_full.h5", ["cycle"]), ("broken_unknown_input_full.h5", [])]
    for name, needles in cases:
        proc = ctx.run("run", "run.yaml", "--set", f"model.weights={ctx.model(name)}",
                       expect_rc=4)
        one_line_error(proc, name, *needles)
        output_absent(ctx)


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_hostile_yaml_bomb(args):
    ctx = Context(args, "hostile_yaml_bomb")
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    # The bomb sits under a real key, where a careless reader would walk it.
    write_text(ctx.path("run.yaml"), "\n".join(lines) + "\ninput:\n  path: *a9\n")
    t0 = time.monotonic()
    proc = ctx.run("run", "run.yaml", expect_rc=2)
    check(time.monotonic() - t0 < 20, "the YAML bomb was not refused fast")
    one_line_error(proc, "run.yaml", "nodes")
    output_absent(ctx)


def test_hostile_yaml_huge(args):
    ctx = Context(args, "hostile_yaml_huge")
    with open(ctx.path("run.yaml"), "w") as f:
        f.write("input:\n  path: scene.tif\n# " + "x" * 1000 + "\n")
        chunk = ("# " + "y" * 98 + "\n") * 10000  # 1 MB
        for _ in range(100):
            f.write(chunk)
    t0 = time.monotonic()
    proc = ctx.run("run", "run.yaml", expect_rc=2)
    check(time.monotonic() - t0 < 20, "the 100 MB YAML was not refused fast")
    one_line_error(proc, "run.yaml", "bytes")
    output_absent(ctx)
    os.remove(ctx.path("run.yaml"))  # 100 MB


def test_hostile_output_is_dir(args):
    ctx = Context(args, "hostile_output_is_dir")
    e2e.write_geotiff(ctx.path("scene.tif"))
    e2e.write_config(ctx, output="out/adir")
    os.makedirs(ctx.path("out", "adir"))
    proc = ctx.run("run", "run.yaml", expect_rc=5)
    one_line_error(proc, ctx.path("out", "adir"), "is a directory")
    check(os.path.isdir(ctx.path("out", "adir")), "the directory was touched")
    check(not os.path.exists(ctx.path("out", "adir.lock")), "the lock file is left")


def test_hostile_disk_full(args):
    ctx = Context(args, "hostile_disk_full")
    e2e.write_geotiff(ctx.path("scene.tif"))
    mnt = ctx.path("small_fs")
    os.makedirs(mnt)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt],
                             capture_output=True, text=True).returncode == 0
    if not mounted:
        print("SKIP: cannot mount a small tmpfs (not root or no CAP_SYS_ADMIN)")
        sys.exit(77)
    try:
        # Uncompressed float32 probabilities: ~770 kB, more than the 256 kB there is.
        e2e.write_config(ctx, output=os.path.join(mnt, "mask.h5"),
                         extra="")
        proc = ctx.run("run", "run.yaml", "--set", "output.compression=none", expect_rc=5)
        one_line_error(proc, "No space left on device")
        check(not os.path.exists(os.path.join(mnt, "mask.h5")), "output after a full disk")
        check(not os.path.exists(os.path.join(mnt, "mask.h5.lock")), "the lock file is left")
    finally:
        subprocess.run(["umount", mnt])


def test_hostile_concurrent(args):
    """A second run on an output that another process is writing is refused at once."""
    ctx = Context(args, "hostile_concurrent")
    e2e.write_geotiff(ctx.path("scene.tif"))
    e2e.write_config(ctx)
    lock_path = ctx.path("out", "mask.h5.lock")
    with open(lock_path, "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        holder.write("12345\n")
        holder.flush()
        with open(ctx.path("out", "mask.h5.partial"), "w") as f:
            f.write("the other run's data")
        proc = ctx.run("run", "run.yaml", expect_rc=5)
        one_line_error(proc, ctx.path("out", "mask.h5"), "another run", "12345")
        with open(ctx.path("out", "mask.h5.partial")) as f:
            check(f.read() == "the other run's data", "the other run's .partial was touched")
        check(not os.path.exists(ctx.path("out", "mask.h5")), "output written while locked")
    # Two real runs at once: one wins, the other is refused (or runs after the first finished).
    os.remove(ctx.path("out", "mask.h5.partial"))
    os.remove(lock_path)
    procs = [subprocess.Popen([ctx.atrous, "run", "run.yaml", "--quiet"], cwd=ctx.dir,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=540), p.stderr.read()) for p in procs]
    print(results)
    check(any(rc == 0 for rc, _ in results), "neither run succeeded")
    for rc, err in results:
        check(rc == 0 or (rc == 5 and "another run" in err), f"unexpected failure: {rc} {err}")
    check(os.path.exists(ctx.path("out", "mask.h5")), "no output")
    check(not os.path.exists(lock_path), "the lock file is left after the runs")


# --- normalization presets ---------------------------------------------------------------------

def test_normalize_presets(args):
    ctx = Context(args, "normalize_presets")
    data = e2e.write_geotiff(ctx.path("scene.tif"))  # uint16, nodata 0
    e2e.write_config(ctx)

    def probs(name, *sets):
        ctx.run("run", "run.yaml", "--set", f"output.path={name}", "--no-preview", *sets,
                expect_rc=0)
        with h5py.File(ctx.path(name), "r") as f:
            cfg = f.attrs["config_yaml"]
            return f["probability"][()], cfg.decode() if isinstance(cfg, bytes) else cfg

    # uint8 is exactly scale 1/255.
    a, _ = probs("a.h5", "--set", "input.normalize={scale: 0.00392156862745098}")
    b, _ = probs("b.h5", "--set", "input.normalize={preset: uint8}")
    check(np.array_equal(a, b, equal_nan=True), "preset uint8 differs from scale 1/255")

    # percentile: per band, the 2nd and 98th percentiles (rank floor(q * (n - 1)) of the valid
    # pixels; the scene is below 1024 px, so the sample is every pixel) map to 0 and 1.
    p, cfg = probs("p.h5", "--set", "input.normalize={preset: percentile}")
    check("preset: percentile" in cfg and "percentiles: [2, 98]" in cfg,
          "config_yaml does not record the preset")
    scales, offsets = [], []
    for i in range(3):
        valid = np.sort(data[i][data[i] != 0].astype(np.float64))
        lo, hi = (valid[int(q / 100 * (len(valid) - 1))] for q in (2, 98))
        print("band", i + 1, "stretch", lo, hi)
        scales.append(repr(1 / (hi - lo)))
        offsets.append(repr(-lo / (hi - lo)))
    scales, offsets = "[" + ", ".join(scales) + "]", "[" + ", ".join(offsets) + "]"
    q, _ = probs("q.h5", "--set", "input.normalize={scale: %s, offset: %s}" % (scales, offsets))
    diff = np.nanmax(np.abs(p - q))
    check(diff < 1e-4, f"preset percentile differs from the same stretch by hand: {diff}")

    proc = ctx.run("run", "run.yaml", "--set", "input.normalize.preset=uint8", expect_rc=2)
    one_line_error(proc, "input.normalize.preset", "scale/offset")
    proc = ctx.run("run", "run.yaml", "--set", "input.normalize={preset: percentile, "
                   "percentiles: [90, 10]}", expect_rc=2)
    one_line_error(proc, "input.normalize.percentiles", "low < high")


if __name__ == "__main__":
    sys.exit(e2e.run_named_test(globals(), __doc__))
