#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: end-to-end tests of the published output's netCDF-4/CF metadata: GDAL's netCDF and
# HDF5 drivers, netCDF4-python, xarray and rioxarray read it placed where the input lies.
"""atrous netCDF-4/CF output tests.

    cf_output_test.py --atrous build/atrous --source . --work build/e2e-work TEST

Exit 0 = pass, 1 = fail, 77 = skip (a Python package missing: tools/install_deps.sh).
"""

import os
import sys
import warnings

import h5py
import numpy as np
from osgeo import gdal, osr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_test as e2e  # noqa: E402
from e2e_test import Context, check  # noqa: E402

gdal.UseExceptions()

LOCAL_WKT = ('LOCAL_CS["atrous test bench grid",LOCAL_DATUM["bench datum",32767],'
             'UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH]]')


def need_python_packages():
    try:
        import netCDF4  # noqa: F401
        import rioxarray  # noqa: F401
        import xarray  # noqa: F401
    except ImportError as e:
        print(f"SKIP: {e} (tools/install_deps.sh installs python3-netcdf4, python3-xarray, "
              "python3-rioxarray)")
        sys.exit(77)


def write_scene(path, wkt, geotransform=e2e.GEOTRANSFORM):
    """The e2e scene (3 bands, nodata 0) with the given CRS WKT and geotransform (None: none)."""
    e2e.write_geotiff(path)
    ds = gdal.Open(path, gdal.GA_Update)
    if geotransform is None:
        ds = None
        # GDAL cannot unset a geotransform in place: rewrite without one.
        src = gdal.Open(path)
        data = src.ReadAsArray()
        src = None
        out = gdal.GetDriverByName("GTiff").Create(path, e2e.WIDTH, e2e.HEIGHT, 3,
                                                   gdal.GDT_UInt16)
        for b in range(3):
            out.GetRasterBand(b + 1).SetNoDataValue(0)
            out.GetRasterBand(b + 1).WriteArray(data[b])
        out = None
        return
    ds.SetProjection(wkt)
    ds = None


def run(ctx, name, wkt, geotransform=e2e.GEOTRANSFORM):
    write_scene(ctx.path(name + ".tif"), wkt, geotransform)
    e2e.write_config(ctx, name=name + ".yaml", input_path=name + ".tif",
                     output=f"out/{name}.h5")
    ctx.run("run", name + ".yaml", "--no-preview", expect_rc=0)
    return ctx.path("out", name + ".h5")


def same_crs(a_wkt, b, what):
    a = osr.SpatialReference(wkt=a_wkt)
    if a.IsLocal():
        # GDAL rebuilds an engineering CRS without its LOCAL_DATUM: compare the name and unit.
        check(b is not None and b.IsLocal() and b.GetName() == a.GetName()
              and b.GetLinearUnits() == a.GetLinearUnits(), f"{what}: local CRS "
              f"{b.ExportToWkt()[:100] if b is not None else None}")
        return
    # GDAL readers map data axes as longitude, latitude (traditional GIS order): ignore that.
    check(b is not None and a.IsSame(b, ["IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES"]), f"{what}: CRS differs from the input's: "
          f"{b.ExportToWkt()[:100] if b is not None else None}")


def check_gdal_netcdf(path, wkt, geotransform):
    """GDAL's netCDF driver: origin, pixel size, CRS and nodata of both rasters."""
    for name, bands, nodata in (("mask", 1, 255), ("probability", 3, "nan")):
        with warnings.catch_warnings():
            ds = gdal.Open(f'NETCDF:"{path}":{name}')
        check(ds.GetDriver().ShortName == "netCDF", f"{name}: opened by {ds.GetDriver().ShortName}")
        check(ds.RasterXSize == e2e.WIDTH and ds.RasterYSize == e2e.HEIGHT, f"{name}: size")
        check(ds.RasterCount == bands, f"{name}: {ds.RasterCount} bands")
        got = ds.GetGeoTransform()
        check(np.allclose(got, geotransform, rtol=0, atol=1e-9),
              f"{name}: geotransform {got}, input {geotransform}")
        same_crs(wkt, ds.GetSpatialRef(), f"netCDF {name}")
        nd = ds.GetRasterBand(1).GetNoDataValue()
        check(nd == nodata if nodata != "nan" else np.isnan(nd), f"{name}: nodata {nd}")
    with h5py.File(path, "r") as f:
        want = f["mask"][()]
    got = gdal.Open(f'NETCDF:"{path}":mask').ReadAsArray()
    check(np.array_equal(got, want), "netCDF driver: mask pixels differ from /mask (flipped?)")


def check_xarray(path, wkt, geotransform):
    import rioxarray
    import xarray as xr
    with xr.open_dataset(path, engine="netcdf4", decode_coords="all") as ds:
        for name in ("mask", "probability"):
            v = ds[name]
            same_crs(wkt, osr.SpatialReference(wkt=v.rio.crs.to_wkt()), f"xarray {name}")
            t = v.rio.transform()
            check(np.allclose(t.to_gdal(), geotransform, rtol=0, atol=1e-9),
                  f"xarray {name}: transform {t.to_gdal()}")
        check(ds["mask"].rio.encoded_nodata == 255, f"xarray mask nodata "
              f"{ds['mask'].rio.encoded_nodata}")
        check(np.isnan(ds["probability"].rio.encoded_nodata), "xarray probability nodata")
        check(ds["probability"].dims == ("band", "y", "x"), f"dims {ds['probability'].dims}")
    r = rioxarray.open_rasterio(f"netcdf:{path}:mask")
    check(np.allclose(r.rio.transform().to_gdal(), geotransform, rtol=0, atol=1e-9),
          f"rioxarray transform {r.rio.transform().to_gdal()}")
    same_crs(wkt, osr.SpatialReference(wkt=r.rio.crs.to_wkt()), "rioxarray")
    check(r.rio.nodata == 255, f"rioxarray nodata {r.rio.nodata}")


def check_h5py_layout_kept(path):
    with h5py.File(path, "r") as f:
        check(f["mask"].shape == (e2e.HEIGHT, e2e.WIDTH), "/mask moved or reshaped")
        check(f["probability"].shape == (3, e2e.HEIGHT, e2e.WIDTH), "/probability moved")
        for a in ("geotransform", "crs_wkt", "config_yaml", "fingerprint", "model_sha256"):
            check(a in f.attrs, f"root attribute {a} lost")
        check(f["progress/tile_done"][()].all(), "tile_done")


def test_cf_north_up(args):
    need_python_packages()
    import netCDF4
    ctx = Context(args, "cf_north_up")
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    wkt = srs.ExportToWkt()
    path = run(ctx, "utm", wkt)
    check_h5py_layout_kept(path)
    check_gdal_netcdf(path, wkt, e2e.GEOTRANSFORM)
    # gdalinfo through the netCDF driver, as a user would type it.
    proc = e2e.subprocess.run(["gdalinfo", f'NETCDF:"{path}":mask'], capture_output=True,
                              text=True, timeout=120)
    print(proc.stdout[-1500:])
    for needle in ("Origin = (500000.000000000000000,5500000.000000000000000)",
                   "Pixel Size = (0.500000000000000,-0.500000000000000)", "UTM zone 33N",
                   "NoData Value=255"):
        check(needle in proc.stdout, f"gdalinfo NETCDF:...:mask lacks {needle!r}")
    # GDAL's HDF5 driver (what `gdalinfo out.h5` picks for .h5) reads the pixels and the
    # float nodata (_FillValue); it has no reader for CF georeferencing (GDAL 3.6 to 3.10).
    ds = gdal.Open(f'HDF5:"{path}"://probability')
    check(np.isnan(ds.GetRasterBand(1).GetNoDataValue()), "HDF5 driver: probability nodata")
    with h5py.File(path, "r") as f:
        check(np.array_equal(gdal.Open(f'HDF5:"{path}"://mask').ReadAsArray(), f["mask"][()]),
              "HDF5 driver: mask pixels")
    # netCDF-C itself: dimensions, coordinate values at pixel centres, attributes.
    with netCDF4.Dataset(path) as nc:
        check(nc.getncattr("Conventions") == "CF-1.8", "Conventions")
        m = nc["mask"]
        check(m.dimensions == ("y", "x"), f"mask dims {m.dimensions}")
        check(m.getncattr("grid_mapping") == "spatial_ref", "grid_mapping")
        check(m.getncattr("_FillValue") == 255 and m.dtype == np.uint8, "mask _FillValue")
        check(nc["probability"].dimensions == ("band", "y", "x"), "probability dims")
        x, y = nc["x"][:], nc["y"][:]
        check(np.allclose(x[:2], [500000.25, 500000.75]) and np.allclose(y[:2], [5499999.75,
                                                                                5499999.25]),
              f"coordinates are not pixel centres: {x[:2]} {y[:2]}")
        check(nc["x"].getncattr("standard_name") == "projection_x_coordinate"
              and nc["x"].getncattr("units") == "m", "x attributes")
        ref = nc["spatial_ref"]
        check(osr.SpatialReference(wkt=ref.getncattr("crs_wkt")).IsSame(srs), "crs_wkt")
        check([float(v) for v in ref.getncattr("GeoTransform").split()] ==
              list(e2e.GEOTRANSFORM), f"GeoTransform {ref.getncattr('GeoTransform')}")
    check_xarray(path, wkt, e2e.GEOTRANSFORM)


def test_cf_unusual_crs(args):
    """The formats tests' unusual CRSs: Antarctic polar stereographic, a local engineering CRS,
    and a geographic one (longitude/latitude coordinates)."""
    need_python_packages()
    import netCDF4
    ctx = Context(args, "cf_unusual_crs")
    polar = osr.SpatialReference()
    polar.ImportFromEPSG(3031)
    geo = osr.SpatialReference()
    geo.ImportFromEPSG(4326)
    geo_gt = (10.0, 0.001, 0.0, 50.0, 0.0, -0.001)
    for name, wkt, gt in (("polar", polar.ExportToWkt(), e2e.GEOTRANSFORM),
                          ("local", LOCAL_WKT, e2e.GEOTRANSFORM),
                          ("geographic", geo.ExportToWkt(), geo_gt)):
        e2e.write_geotiff(ctx.path(name + ".tif"))
        ds = gdal.Open(ctx.path(name + ".tif"), gdal.GA_Update)
        ds.SetProjection(wkt)
        ds.SetGeoTransform(gt)
        ds = None
        e2e.write_config(ctx, name=name + ".yaml", input_path=name + ".tif",
                         output=f"out/{name}.h5")
        ctx.run("run", name + ".yaml", "--no-preview", expect_rc=0)
        path = ctx.path("out", name + ".h5")
        print("case", name)
        check_gdal_netcdf(path, wkt, gt)
        with netCDF4.Dataset(path) as nc:
            sn = nc["x"].getncattr("standard_name")
            check(sn == ("longitude" if name == "geographic" else "projection_x_coordinate"),
                  f"{name}: x standard_name {sn}")
        if name != "local":  # pyproj has no engineering CRS from WKT1 LOCAL_CS
            check_xarray(path, wkt, gt)


def test_cf_no_georeference(args):
    """No geotransform, no CRS: pixel-index coordinates, no grid mapping; netCDF still opens."""
    need_python_packages()
    import netCDF4
    ctx = Context(args, "cf_no_georeference")
    path = run(ctx, "plain", "", geotransform=None)
    with netCDF4.Dataset(path) as nc:
        check("spatial_ref" not in nc.variables, "spatial_ref written without georeference")
        check("grid_mapping" not in nc["mask"].ncattrs(), "grid_mapping without georeference")
        check(list(nc["x"][:3]) == [0, 1, 2], f"x is not the pixel index: {nc['x'][:3]}")
        check(nc["mask"].dimensions == ("y", "x"), "mask dims")


def test_cf_classifier(args):
    """The classifier's /class grid (one cell per tile) gets its own coordinates."""
    need_python_packages()
    ctx = Context(args, "cf_classifier")
    e2e.write_geotiff(ctx.path("scene.tif"), bands=1)
    e2e.write_config(ctx, weights=ctx.model("classifier_full.h5"))
    ctx.run("run", "run.yaml", "--set", "tile.size=28", "--no-preview", expect_rc=0)
    path = ctx.path("out", "mask.h5")
    ds = gdal.Open(f'NETCDF:"{path}":class')
    gt = list(e2e.GEOTRANSFORM)
    gt[1] *= 28
    gt[5] *= 28
    check(np.allclose(ds.GetGeoTransform(), gt), f"class grid geotransform {ds.GetGeoTransform()}")
    check((ds.RasterXSize, ds.RasterYSize) == (11, 8), "class grid size")
    check(ds.GetRasterBand(1).GetNoDataValue() == 255, "class nodata")


if __name__ == "__main__":
    sys.exit(e2e.run_named_test(globals(), __doc__))
