#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: end-to-end tests of input formats as they come in the field (one per call).
"""atrous input-format end-to-end tests.

    formats_test.py --atrous build/atrous --source . --work build/e2e-work TEST

Each test writes the same small scene in several forms with GDAL (a VRT mosaic of GeoTIFFs, a
COG, tiled and striped GeoTIFFs, 4 and 13 bands, 8/16-bit integers and float32, nodata values,
per-dataset masks and alpha bands, missing and unusual projections), runs `atrous run` on each
and compares the HDF5 outputs with the plain GeoTIFF's: byte-identical /mask and /probability
where the pixels fed to the network are the same. Exit 0 = pass, 1 = fail, 77 = skip.
"""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
from osgeo import gdal, osr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_test as e2e  # noqa: E402
from e2e_test import Context, check  # noqa: E402

gdal.UseExceptions()

WIDTH, HEIGHT = 300, 210
GEOTRANSFORM = (500000.0, 0.5, 0.0, 5500000.0, 0.0, -0.5)
SCALE = 1 / 255.0  # the scene's values (1..255) to [0, 1]
NODATA_RECT = (60, 0, 80, 70)  # x, y, w, h: holds the core of tile (1, 0) -> one tile skipped


def utm33():
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    return srs.ExportToWkt()


def scene(bands=1, seed=1, nodata_rect=NODATA_RECT):
    """bands x HEIGHT x WIDTH values in 1..255 (0 = nodata inside nodata_rect), blobs on noise:
    the test U-Nets see shapes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    out = np.empty((bands, HEIGHT, WIDTH), np.int64)
    for b in range(bands):
        base = rng.integers(1, 120, size=(HEIGHT, WIDTH))
        blobs = 120 * (np.sin(xx / (7.0 + b)) * np.cos(yy / (5.0 + b)) > 0.2)
        out[b] = base + blobs + b
    if nodata_rect:
        x, y, w, h = nodata_rect
        out[:, y:y + h, x:x + w] = 0
    return np.clip(out, 0, 255)


def write_tif(path, data, dtype=gdal.GDT_Byte, options=("TILED=YES", "BLOCKXSIZE=64",
              "BLOCKYSIZE=64", "COMPRESS=DEFLATE"), nodata=0, wkt="utm",
              geotransform=GEOTRANSFORM):
    bands, h, w = data.shape
    ds = gdal.GetDriverByName("GTiff").Create(path, w, h, bands, dtype, list(options))
    if geotransform is not None:
        ds.SetGeoTransform(geotransform)
    if wkt == "utm":
        wkt = utm33()
    if wkt:
        ds.SetProjection(wkt)
    for b in range(bands):
        band = ds.GetRasterBand(b + 1)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        band.WriteArray(data[b])
    ds = None


def write_config(ctx, input_path, weights="unet_d5_full.h5", scale=SCALE, offset=0.0,
                 bands=None, output="out/mask.h5"):
    os.makedirs(os.path.dirname(ctx.path(output)), exist_ok=True)
    return e2e.write_config(ctx, os.path.basename(output) + ".yaml", input_path,
                            ctx.model(weights), output=output, scale=scale, offset=offset,
                            bands=bands)


def run(ctx, input_path, name, **kw):
    """Runs atrous on input_path; returns (the outputs, stdout, stderr, the run report)."""
    out = f"out/{name}.h5"
    cfg = write_config(ctx, input_path, output=out, **kw)
    proc = ctx.run("run", cfg, "--log-format", "plain", "--no-preview", expect_rc=0)
    with h5py.File(ctx.path(out), "r") as f:
        res = {"mask": f["mask"][()], "probability": f["probability"][()],
               "crs_wkt": f.attrs["crs_wkt"], "geotransform": f.attrs.get("geotransform")}
    if isinstance(res["crs_wkt"], bytes):
        res["crs_wkt"] = res["crs_wkt"].decode()
    with open(ctx.path("out", f"{name}.report.json")) as f:
        report = json.load(f)
    return res, proc.stdout, proc.stderr, report


def same(a, b, what):
    """Byte-identical /mask and /probability."""
    check(a["mask"].shape == b["mask"].shape, f"{what}: mask shape {a['mask'].shape}")
    check(a["mask"].tobytes() == b["mask"].tobytes(),
          f"{what}: /mask differs in {(a['mask'] != b['mask']).sum()} px")
    pa, pb = a["probability"], b["probability"]
    if pa.tobytes() != pb.tobytes():
        diff = np.nanmax(np.abs(pa - pb))
        raise e2e.Failure(f"{what}: /probability not byte-identical (max |diff| {diff})")


def check_nodata(res, nodata, what):
    check((res["mask"][nodata] == 255).all(), f"{what}: nodata pixels are not 255 in /mask")
    check((res["mask"][~nodata] != 255).all(), f"{what}: valid pixels are nodata in /mask")
    check(np.isnan(res["probability"][:, nodata]).all(), f"{what}: nodata probability not NaN")


# --- VRT mosaic ---------------------------------------------------------------------------------

def test_vrt_mosaic(args):
    """A 3 x 3 VRT mosaic (gdalbuildvrt) of ragged GeoTIFF tiles, two of them missing (gaps are
    nodata), gives the bytes of the same image as one GeoTIFF."""
    ctx = Context(args, "vrt_mosaic")
    data = scene()
    xs, ys = [0, 101, 201, WIDTH], [0, 71, 141, HEIGHT]
    gaps = {(0, 2), (2, 1)}  # (row, col) of the tiles left out
    full = data.copy()
    files = []
    for r in range(3):
        for c in range(3):
            x0, x1, y0, y1 = xs[c], xs[c + 1], ys[r], ys[r + 1]
            if (r, c) in gaps:
                full[:, y0:y1, x0:x1] = 0
                continue
            gt = (GEOTRANSFORM[0] + x0 * GEOTRANSFORM[1], GEOTRANSFORM[1], 0.0,
                  GEOTRANSFORM[3] + y0 * GEOTRANSFORM[5], 0.0, GEOTRANSFORM[5])
            path = ctx.path(f"tile_{r}_{c}.tif")
            write_tif(path, data[:, y0:y1, x0:x1], geotransform=gt,
                      options=("TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32", "COMPRESS=DEFLATE"))
            files.append(path)
    proc = subprocess.run(["gdalbuildvrt", ctx.path("mosaic.vrt"), *files], capture_output=True,
                          text=True, timeout=120)
    check(proc.returncode == 0, f"gdalbuildvrt failed: {proc.stderr}")
    write_tif(ctx.path("whole.tif"), full)

    vrt, out, _, rep_v = run(ctx, ctx.path("mosaic.vrt"), "vrt")
    check("(VRT)" in out and "VRT of 7 files, the first tiled 32 x 32, DEFLATE, Byte" in out,
          "the plan does not describe the VRT's sources")
    whole, _, _, rep_w = run(ctx, ctx.path("whole.tif"), "whole")
    same(vrt, whole, "VRT mosaic vs one GeoTIFF")
    check_nodata(vrt, full[0] == 0, "VRT")
    # The gap at row 0, column 2 (x 201..300, y 0..71) holds the core of tile (4, 0) entirely.
    check(rep_v["tiles"] == rep_w["tiles"] and rep_v["tiles"]["skipped_empty"] >= 2,
          f"skipped tiles: VRT {rep_v['tiles']}, GeoTIFF {rep_w['tiles']}")
    check(np.allclose(vrt["geotransform"], GEOTRANSFORM), "VRT geotransform lost")
    check("UTM zone 33N" in vrt["crs_wkt"], "VRT CRS lost")


# --- storage layouts ----------------------------------------------------------------------------

def test_layouts(args):
    """Tiled, striped (deflate and uncompressed), COG and band-interleaved inputs: same bytes."""
    ctx = Context(args, "layouts")
    data = scene(bands=3)
    variants = {
        "tiled": ("TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE"),
        "striped": ("TILED=NO", "COMPRESS=DEFLATE"),
        "striped_raw": ("TILED=NO", "BLOCKYSIZE=7"),
        "band_interleaved": ("TILED=YES", "COMPRESS=LZW", "INTERLEAVE=BAND"),
    }
    for name, options in variants.items():
        write_tif(ctx.path(name + ".tif"), data, options=options)
    proc = subprocess.run(["gdal_translate", "-of", "COG", "-co", "COMPRESS=DEFLATE",
                           "-co", "BLOCKSIZE=128", ctx.path("tiled.tif"), ctx.path("cog.tif")],
                          capture_output=True, text=True, timeout=120)
    check(proc.returncode == 0, f"gdal_translate -of COG failed: {proc.stderr}")
    cog_info = gdal.Info(ctx.path("cog.tif"), format="json")
    check(cog_info["metadata"]["IMAGE_STRUCTURE"].get("LAYOUT") == "COG", "not a COG")

    expect = {
        "tiled": "tiled 64 x 64, DEFLATE, Byte x 3 bands pixel-interleaved",
        "striped": "striped (",
        "striped_raw": "striped (7 rows per strip), none, Byte x 3 bands",
        "band_interleaved": "LZW, Byte x 3 bands band-interleaved",
        "cog": "tiled 128 x 128, DEFLATE",
    }
    ref, *_ = run(ctx, ctx.path("tiled.tif"), "ref", weights="unet_rgb3_full.h5")
    for name, needle in expect.items():
        res, out, _, _ = run(ctx, ctx.path(name + ".tif"), name, weights="unet_rgb3_full.h5")
        check(needle in out, f"{name}: the plan does not say {needle!r}")
        check("GDAL cache" in out, f"{name}: the plan does not give the GDAL cache")
        same(res, ref, f"{name} vs tiled")
    check_nodata(ref, data[0] == 0, "tiled")

    # runtime.gdal_cache_mb: taken as given and printed.
    cfg = write_config(ctx, ctx.path("striped.tif"), weights="unet_rgb3_full.h5",
                       output="out/cache.h5")
    proc = ctx.run("run", cfg, "--set", "runtime.gdal_cache_mb=17", "--no-preview",
                   expect_rc=0)
    check("GDAL cache 17 MB (runtime.gdal_cache_mb)" in proc.stdout, "gdal_cache_mb not used")
    proc = ctx.run("run", cfg, "--set", "runtime.gdal_cache_mb=0", expect_rc=2)
    e2e.one_line_error(proc, "runtime.gdal_cache_mb", "expected an integer")


# --- band selection -----------------------------------------------------------------------------

def test_band_selection(args):
    """input.bands picks the right bands of 4- and 13-band files: the output equals that of a
    file holding only those bands, in that order."""
    ctx = Context(args, "band_selection")
    data13 = scene(bands=13, seed=5)
    write_tif(ctx.path("b13.tif"), data13.astype(np.uint16), gdal.GDT_UInt16,
              options=("TILED=YES", "COMPRESS=DEFLATE", "INTERLEAVE=BAND"))
    write_tif(ctx.path("b13_band7.tif"), data13[[6]].astype(np.uint16), gdal.GDT_UInt16)
    b7, *_ = run(ctx, ctx.path("b13_band7.tif"), "b13_band7")
    sel, out, _, _ = run(ctx, ctx.path("b13.tif"), "b13_sel7", bands=[7])
    check("1 band (GTiff)" in out and "UInt16 x 13 bands band-interleaved" in out,
          "13 bands: plan summary")
    same(sel, b7, "13 bands, band 7 vs the single band 7")
    # GDAL 3.6.2 decodes band-interleaved TIFFs wrongly on several threads (GDAL_NUM_THREADS);
    # the reader decodes in its own thread whatever the environment says.
    os.environ["GDAL_NUM_THREADS"] = "2"
    try:
        mt, *_ = run(ctx, ctx.path("b13.tif"), "b13_sel7_mt", bands=[7])
    finally:
        del os.environ["GDAL_NUM_THREADS"]
    same(mt, b7, "13 bands, band 7, GDAL_NUM_THREADS=2 in the environment")
    other, *_ = run(ctx, ctx.path("b13.tif"), "b13_sel6", bands=[6])
    check(other["probability"].tobytes() != b7["probability"].tobytes(),
          "band 6 gives band 7's output: the selection is not applied")

    data4 = scene(bands=4, seed=9)
    write_tif(ctx.path("b4.tif"), data4, options=("TILED=NO", "COMPRESS=DEFLATE"))
    write_tif(ctx.path("b4_413.tif"), data4[[3, 0, 2]])
    ref, *_ = run(ctx, ctx.path("b4_413.tif"), "b4_413", weights="unet_rgb3_full.h5")
    sel, *_ = run(ctx, ctx.path("b4.tif"), "b4_sel413", weights="unet_rgb3_full.h5",
                  bands=[4, 1, 3])
    same(sel, ref, "4 bands, bands [4, 1, 3] vs a file of those bands")


# --- data types ---------------------------------------------------------------------------------

def test_data_types(args):
    """The same scene as uint8, uint16, int16 and float32 (with a nodata value each, NaN for one
    float32 file), normalized to the same numbers: the same output."""
    ctx = Context(args, "data_types")
    v = scene()
    nodata = v[0] == 0
    write_tif(ctx.path("u8.tif"), v, gdal.GDT_Byte)
    ref, out, _, rep = run(ctx, ctx.path("u8.tif"), "u8")
    check("nodata 0" in out and "Byte" in out, "uint8: plan summary")
    check(rep["tiles"]["skipped_empty"] == 1, f"uint8: skipped tiles {rep['tiles']}")
    check_nodata(ref, nodata, "uint8")

    # uint16 holds v * 256; scale (1/255) / 256 gives the very same doubles (powers of two).
    write_tif(ctx.path("u16.tif"), v * 256, gdal.GDT_UInt16)
    res, out, _, _ = run(ctx, ctx.path("u16.tif"), "u16", scale=SCALE / 256)
    check("UInt16" in out, "uint16: plan summary")
    same(res, ref, "uint16 vs uint8")

    # float32 holds v; nodata 0, then NaN as the nodata value.
    write_tif(ctx.path("f32.tif"), v.astype(np.float32), gdal.GDT_Float32)
    res, *_ = run(ctx, ctx.path("f32.tif"), "f32")
    same(res, ref, "float32 vs uint8")
    fnan = v.astype(np.float32)
    fnan[:, nodata] = np.nan
    write_tif(ctx.path("f32nan.tif"), fnan, gdal.GDT_Float32, nodata=float("nan"))
    res, out, _, _ = run(ctx, ctx.path("f32nan.tif"), "f32nan")
    check("nodata nan" in out, "float32 NaN nodata: plan summary")
    same(res, ref, "float32 with NaN nodata vs uint8")

    # int16 holds v * 64 - 8192 (negative values), nodata -32768; scale and offset undo it up
    # to rounding (the doubles may differ in the last bit before the float32 cast).
    i16 = v * 64 - 8192
    i16[:, nodata] = -32768
    write_tif(ctx.path("i16.tif"), i16, gdal.GDT_Int16, nodata=-32768)
    res, out, _, _ = run(ctx, ctx.path("i16.tif"), "i16", scale=SCALE / 64,
                         offset=8192 * SCALE / 64)
    check("nodata -32768" in out and "Int16" in out, "int16: plan summary")
    check_nodata(res, nodata, "int16")
    diff = np.nanmax(np.abs(res["probability"] - ref["probability"]))
    check(diff < 1e-5, f"int16 vs uint8: probabilities differ by {diff}")
    p = ref["probability"][0]
    firm = ~nodata & (np.abs(p - 0.5) > 1e-4)
    check((res["mask"][firm] == ref["mask"][firm]).all(), "int16 vs uint8: masks differ")


# --- validity masks -----------------------------------------------------------------------------

def masked_region():
    """Pixels a mask band hides: a rectangle holding a whole core and a scattered diagonal."""
    m = np.zeros((HEIGHT, WIDTH), bool)
    m[120:200, 190:280] = True
    idx = np.arange(0, min(HEIGHT, WIDTH), 3)
    m[idx, idx] = True
    return m


def test_mask_band(args):
    """A per-dataset mask (TIFF internal mask, no nodata value) and an alpha band: masked pixels
    are nodata in the output, tiles whose core is all masked are skipped, and the output equals
    that of the same image with a nodata value at those pixels."""
    ctx = Context(args, "mask_band")
    v = scene(nodata_rect=None)
    hidden = masked_region()
    garbage = np.random.default_rng(4).integers(1, 255, size=v.shape)
    shown = v.copy()
    shown[:, hidden] = garbage[:, hidden]  # the pixel values under the mask are not 0

    ref_data = v.copy()
    ref_data[:, hidden] = 0
    write_tif(ctx.path("ref.tif"), ref_data)
    ref, _, _, rep_ref = run(ctx, ctx.path("ref.tif"), "ref")

    gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", "YES")
    ds = gdal.GetDriverByName("GTiff").Create(ctx.path("masked.tif"), WIDTH, HEIGHT, 1,
                                              gdal.GDT_Byte, ["TILED=YES", "COMPRESS=DEFLATE"])
    ds.SetGeoTransform(GEOTRANSFORM)
    ds.SetProjection(utm33())
    ds.GetRasterBand(1).WriteArray(shown[0])
    ds.CreateMaskBand(gdal.GMF_PER_DATASET)
    ds.GetRasterBand(1).GetMaskBand().WriteArray(np.where(hidden, 0, 255).astype(np.uint8))
    ds = None
    gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", None)
    ds = gdal.Open(ctx.path("masked.tif"))  # GDAL 3.6: keep the dataset while using a band
    flags = ds.GetRasterBand(1).GetMaskFlags()
    ds = None
    check(flags == gdal.GMF_PER_DATASET, f"test file: mask flags {flags}")

    res, out, _, rep = run(ctx, ctx.path("masked.tif"), "masked")
    check("nodata none" in out and "validity mask: per-dataset mask" in out,
          "the plan does not name the mask")
    check_nodata(res, hidden, "per-dataset mask")
    same(res, ref, "per-dataset mask vs nodata value")
    check(rep["tiles"]["skipped_empty"] >= 1 and rep["tiles"] == rep_ref["tiles"],
          f"masked tiles not skipped: {rep['tiles']} vs {rep_ref['tiles']}")

    # RGBA: bands 1-3 into the 3-band model, alpha 0 = nodata.
    v3 = scene(bands=3, nodata_rect=None)
    rgba = np.concatenate([v3, np.where(hidden, 0, 255)[None]], axis=0)
    rgba[:3, hidden] = garbage[0, hidden]
    write_tif(ctx.path("rgba.tif"), rgba, nodata=None,
              options=("TILED=YES", "PHOTOMETRIC=RGB", "ALPHA=YES", "COMPRESS=DEFLATE"))
    ds = gdal.Open(ctx.path("rgba.tif"))
    flags = ds.GetRasterBand(1).GetMaskFlags()
    ds = None
    check(flags == gdal.GMF_ALPHA | gdal.GMF_PER_DATASET, f"test file: mask flags {flags}")
    ref3 = v3.copy()
    ref3[:, hidden] = 0
    write_tif(ctx.path("ref3.tif"), ref3)
    r3, *_ = run(ctx, ctx.path("ref3.tif"), "ref3", weights="unet_rgb3_full.h5")
    res, out, _, _ = run(ctx, ctx.path("rgba.tif"), "rgba", weights="unet_rgb3_full.h5",
                         bands=[1, 2, 3])
    check("validity mask: alpha band" in out, "the plan does not name the alpha band")
    same(res, r3, "alpha band vs nodata value")


# --- projections --------------------------------------------------------------------------------

def gdalinfo_json(path):
    proc = subprocess.run(["gdalinfo", "-json", path], capture_output=True, text=True, timeout=120)
    check(proc.returncode == 0, f"gdalinfo failed on {path}: {proc.stderr}")
    return json.loads(proc.stdout)


def warnings_of(stderr):
    return [l for l in stderr.splitlines() if l.strip()]


def test_missing_projection(args):
    """No CRS: one warning line, the run succeeds, the outputs have no CRS; no georeference at
    all: one warning, pixel coordinates."""
    ctx = Context(args, "missing_projection")
    write_tif(ctx.path("nocrs.tif"), scene(), wkt=None)
    res, out, err, _ = run(ctx, ctx.path("nocrs.tif"), "nocrs")
    lines = warnings_of(err)
    check(len(lines) == 1 and lines[0].startswith("atrous: warning: ") and "no CRS" in lines[0]
          and "nocrs.tif" in lines[0], f"expected one warning line about the CRS: {lines}")
    check("georeferenced, no CRS" in out, "plan summary")
    check(res["crs_wkt"] == "", f"crs_wkt {res['crs_wkt'][:60]!r}")
    check(np.allclose(res["geotransform"], GEOTRANSFORM), "the geotransform is lost")
    ctx.run("export", ctx.path("out", "nocrs.h5"), "--to", "nocrs_mask.tif", expect_rc=0)
    info = gdalinfo_json(ctx.path("nocrs_mask.tif"))
    check(not info.get("coordinateSystem", {}).get("wkt"), "export invented a CRS")
    check(tuple(info["geoTransform"]) == GEOTRANSFORM, "export lost the geotransform")

    write_tif(ctx.path("plain.tif"), scene(), wkt=None, geotransform=None)
    res, out, err, _ = run(ctx, ctx.path("plain.tif"), "plain")
    lines = warnings_of(err)
    check(len(lines) == 1 and "not georeferenced" in lines[0],
          f"expected one warning line: {lines}")
    check("not georeferenced" in out, "plan summary")
    ctx.run("export", ctx.path("out", "plain.h5"), "--to", "plain_mask.tif", expect_rc=0)
    info = gdalinfo_json(ctx.path("plain_mask.tif"))
    check(not info.get("coordinateSystem", {}).get("wkt"), "export invented a CRS")


LOCAL_WKT = ('LOCAL_CS["atrous test bench grid",LOCAL_DATUM["bench datum",32767],'
             'UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH]]')


def test_unusual_projection(args):
    """Antarctic polar stereographic and a local (engineering) CRS: the input's WKT is in the
    HDF5 verbatim, and `atrous export` writes it into the GeoTIFF (gdalinfo shows it)."""
    ctx = Context(args, "unusual_projection")
    polar = osr.SpatialReference()
    polar.ImportFromEPSG(3031)
    cases = [("polar", polar.ExportToWkt(), ["Antarctic Polar Stereographic",
                                             "Polar Stereographic"]),
             ("local", LOCAL_WKT, ["atrous test bench grid"])]
    for name, wkt, needles in cases:
        write_tif(ctx.path(name + ".tif"), scene(), wkt=wkt)
        file_wkt = gdal.Open(ctx.path(name + ".tif")).GetProjectionRef()
        res, out, err, _ = run(ctx, ctx.path(name + ".tif"), name)
        check(warnings_of(err) == [], f"{name}: warnings {warnings_of(err)}")
        check(res["crs_wkt"] == file_wkt,
              f"{name}: crs_wkt is not the input's WKT verbatim: {res['crs_wkt'][:80]!r}")
        check(needles[0] in out, f"{name}: the plan does not name the CRS")
        ctx.run("export", ctx.path("out", name + ".h5"), "--to", name + "_mask.tif", expect_rc=0)
        info = gdalinfo_json(ctx.path(name + "_mask.tif"))
        got = info.get("coordinateSystem", {}).get("wkt", "")
        print(name, "exported WKT:", got)
        check(any(n in got for n in needles), f"{name}: gdalinfo does not show the CRS: {got}")
        check(tuple(info["geoTransform"]) == GEOTRANSFORM, f"{name}: geotransform")
        if name == "polar":
            a = osr.SpatialReference(wkt=file_wkt)
            b = osr.SpatialReference(wkt=got)
            check(a.IsSame(b), "polar: the exported CRS is not the input's")


if __name__ == "__main__":
    sys.exit(e2e.run_named_test(globals(), __doc__))
