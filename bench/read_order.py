#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: reads a raster's 592 x 592 windows (tile 512 + halo 40, the demo model's) in atrous'
# order through one GDAL handle with a given block cache: what the cache size costs in decoding.
"""bench/read_order.py RASTER CACHE_MB"""
import sys, time
from osgeo import gdal
path, cache_mb = sys.argv[1], int(sys.argv[2])
gdal.SetCacheMax(cache_mb * 1024 * 1024)
ds = gdal.Open(path)
W, H = ds.RasterXSize, ds.RasterYSize
t, h = 512, 40
t0 = time.perf_counter()
for y in range(0, H, t):
    for x in range(0, W, t):
        x0, y0 = max(0, x - h), max(0, y - h)
        x1, y1 = min(W, x + t + h), min(H, y + t + h)
        ds.ReadRaster(x0, y0, x1 - x0, y1 - y0, buf_type=gdal.GDT_Float32)
print(path, cache_mb, "MB:", round(time.perf_counter() - t0, 2), "s")
