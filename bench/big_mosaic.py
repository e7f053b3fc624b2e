#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: the big-mosaic benchmark: a 40000 x 40000 VRT of generated GeoTIFF tiles through
# `atrous run` with the demo model; peak RSS and how busy inference kept the threads.
"""Big-mosaic benchmark (a script, not a CI test).

    bench/big_mosaic.py [--atrous build/atrous] [--work /tmp/atrous-big-mosaic]
                        [--size 40000] [--tile 2500] [--threads 0] [--keep-output]

Writes --size / --tile squared GeoTIFF tiles (`atrous synth`: nuclei-like blobs the demo model
segments, uint8, tiled 256 px, DEFLATE; each its own seed and place in the mosaic) once into
WORK/tiles, mosaics them with gdalbuildvrt into WORK/mosaic.vrt, then runs

    atrous run configs/demo.yaml --set input.path=WORK/mosaic.vrt --set output.path=WORK/out.h5

under /usr/bin/time -v and prints peak RSS (target < 2 GiB) and the inference busy fraction,
infer seconds / (tile-loop wall x threads) from the run report (target >= 90 %). The tiles are
reused by later calls; the output is deleted unless --keep-output. Needs about 1.2 GB of disk
for the tiles and 4.5 GB for the output while it is written.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time

from osgeo import gdal

gdal.UseExceptions()

PIXEL = 0.5  # metres; the synthetic scene's pixel size
ORIGIN = (500000.0, 5500000.0)


def make_tile(atrous, tiles_dir, size, tile, n, r, c):
    path = os.path.join(tiles_dir, f"tile_{r:03d}_{c:03d}.tif")
    if os.path.exists(path):
        return path
    tmp = path + ".tmp.tif"
    truth = path + ".truth.tif"
    edge = min(tile, size - c * tile), min(tile, size - r * tile)
    subprocess.run([atrous, "synth", "--out", tmp, "--truth", truth, "--size", str(max(edge)),
                    "--seed", str(1000 + r * n + c)], check=True, stdout=subprocess.DEVNULL)
    # Its place in the mosaic (and the ragged last row/column, if any).
    ds = gdal.Open(tmp, gdal.GA_Update)
    ds.SetGeoTransform((ORIGIN[0] + c * tile * PIXEL, PIXEL, 0.0,
                        ORIGIN[1] - r * tile * PIXEL, 0.0, -PIXEL))
    ds = None
    if edge[0] != edge[1]:
        gdal.Translate(path, tmp, srcWin=[0, 0, edge[0], edge[1]],
                       creationOptions=["TILED=YES", "COMPRESS=DEFLATE"])
        os.remove(tmp)
    else:
        os.rename(tmp, path)
    os.remove(truth)
    return path


def make_tiles(atrous, work, size, tile, jobs):
    tiles_dir = os.path.join(work, "tiles")
    os.makedirs(tiles_dir, exist_ok=True)
    n = (size + tile - 1) // tile
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(make_tile, atrous, tiles_dir, size, tile, n, r, c)
                   for r in range(n) for c in range(n)]
        files = [f.result() for f in futures]
    print(f"tiles: {len(files)} in {time.monotonic() - t0:.0f} s", flush=True)
    vrt = os.path.join(work, "mosaic.vrt")
    subprocess.run(["gdalbuildvrt", "-q", vrt, *files], check=True)
    return vrt, len(files)


def time_v(text, key):
    m = re.search(re.escape(key) + r": (.*)", text)
    return m.group(1).strip() if m else "?"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.dirname(here)
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--atrous", default=os.path.join(source, "build", "atrous"))
    p.add_argument("--work", default="/tmp/atrous-big-mosaic")
    p.add_argument("--size", type=int, default=40000)
    p.add_argument("--tile", type=int, default=2500)
    p.add_argument("--threads", type=int, default=0, help="runtime.threads (0: every core)")
    p.add_argument("--jobs", type=int, default=os.cpu_count(),
                   help="processes generating the tiles")
    p.add_argument("--keep-output", action="store_true")
    p.add_argument("--set", action="append", default=[], help="extra --set for atrous run")
    args = p.parse_args()
    atrous = os.path.abspath(args.atrous)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    free_gb = shutil.disk_usage(work).free / 1e9
    need_gb = 1.5 + 3 * args.size * args.size / 1e9
    print(f"work dir {work}: {free_gb:.1f} GB free, about {need_gb:.1f} GB needed")
    if free_gb < need_gb:
        print("not enough disk space")
        return 1

    vrt, count = make_tiles(atrous, work, args.size, args.tile, args.jobs)
    out = os.path.join(work, "out.h5")
    cmd = ["/usr/bin/time", "-v", atrous, "run", os.path.join(source, "configs", "demo.yaml"),
           "--set", f"input.path={vrt}", "--set", f"output.path={out}",
           "--set", f"runtime.threads={args.threads}", "--log-format", "plain", "--restart"]
    for s in args.set:
        cmd += ["--set", s]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    print(proc.stdout)
    if proc.returncode != 0:
        print(proc.stderr)
        return 1
    rss_kb = int(time_v(proc.stderr, "Maximum resident set size (kbytes)"))
    report_path = os.path.join(work, "out.report.json")
    with open(report_path) as f:
        rep = json.load(f)
    sec = rep["seconds"]
    busy = rep["infer_busy"]
    print(f"mosaic      {args.size} x {args.size} px, VRT of {count} GeoTIFF tiles of "
          f"{args.tile} px")
    print(f"threads     {rep['threads']}, tiles {rep['tiles']['total']}")
    print(f"process     {wall:.1f} s wall (/usr/bin/time: {time_v(proc.stderr, 'Elapsed (wall clock) time (h:mm:ss or m:ss)')}, "
          f"CPU {time_v(proc.stderr, 'Percent of CPU this job got')})")
    print(f"tile loop   {sec['wall']:.1f} s; summed per stage: read {sec['read']:.1f} s, "
          f"infer {sec['infer']:.1f} s, stitch {sec['stitch']:.1f} s, write {sec['write']:.1f} s "
          "(write includes publishing the compressed file after the loop)")
    print(f"throughput  {rep['throughput']['mpx_per_s']:.2f} Mpx/s, "
          f"{rep['throughput']['gflop_per_s']:.1f} GFLOP/s")
    print(f"peak RSS    {rss_kb / 1024:.0f} MiB ({'<' if rss_kb < 2 * 1024 * 1024 else '>='} 2 GiB)")
    print(f"infer busy  {100 * busy:.1f} % of tile-loop wall x threads "
          f"({'>=' if busy >= 0.9 else '<'} 90 %)")
    if rep["threads"] > 8:
        print("            (at most 8 tiles are in flight: with more threads the network's own "
              "parallel kernels use the rest, which this ratio does not count)")
    if not args.keep_output:
        for f in (out, report_path, os.path.join(work, "out.png")):
            if os.path.exists(f):
                os.remove(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
