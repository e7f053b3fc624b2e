#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: peak RSS of a streamed run over a very wide mosaic (issue 13: 40000 x 40000 with the
# full-width seed U-Net under 2 GiB per rank), per tile.stream_strip, without running it to the
# end (that would take days on a laptop): the run is stopped with SIGTERM once its stream is past
# the warm-up and has written output rows, i.e. once every row buffer of its strip is in use.
"""Peak RSS of a stream over a wide mosaic, per strip width.

    bench/stream_memory.py --atrous build/atrous --weights seed_unet64.h5 \
        [--size 40000] [--strips 1024,2048,4096] [--threads 2] [--tiles 2] [--work DIR]

Writes one 2500 x 2500 single-band uint8 GeoTIFF (smooth pattern + noise) into --work and a VRT
that repeats it --size / 2500 times along each axis (a --size x --size mosaic of the same file,
as gdalbuildvrt would place distinct files), then for each strip width runs

    atrous run configs/membrane.yaml --set input.path=WORK/mosaic.vrt --set model.weights=W
        --set tile.executor=stream --set tile.stream_strip=S --set runtime.threads=T

polls the process's VmHWM (peak resident set) every 0.2 s, and sends SIGTERM once --tiles tile
rows of the first strip are written (the stream's buffers then hold their steady-state rows:
after the warm-up every buffer is filled to its capacity before it is compacted). Prints the
plan's strips, FLOP ratio (FLOPs of the strips / one whole-image pass) and row-buffer bytes, the
tiles written, the seconds run and the peak RSS, per strip width.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

SOURCE = 2500


def make_source(path):
    import numpy as np
    from osgeo import gdal

    y, x = np.mgrid[0:SOURCE, 0:SOURCE]
    rng = np.random.default_rng(1)
    img = 127 + 80 * np.sin(x / 37.0) * np.cos(y / 23.0) + rng.normal(0, 20, (SOURCE, SOURCE))
    ds = gdal.GetDriverByName("GTiff").Create(path, SOURCE, SOURCE, 1, gdal.GDT_Byte,
                                              ["TILED=YES", "COMPRESS=DEFLATE"])
    ds.SetGeoTransform([500000.0, 0.5, 0.0, 5500000.0, 0.0, -0.5])
    ds.GetRasterBand(1).WriteArray(img.clip(0, 255).astype(np.uint8))
    ds = None


def make_vrt(path, source, size):
    n = -(-size // SOURCE)
    sources = []
    for r in range(n):
        for c in range(n):
            w = min(SOURCE, size - c * SOURCE)
            h = min(SOURCE, size - r * SOURCE)
            sources.append(
                f'    <SimpleSource><SourceFilename relativeToVRT="0">{source}</SourceFilename>'
                f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
                f'<DstRect xOff="{c * SOURCE}" yOff="{r * SOURCE}" xSize="{w}" ySize="{h}"/>'
                f'</SimpleSource>')
    with open(path, "w") as f:
        f.write(f'<VRTDataset rasterXSize="{size}" rasterYSize="{size}">\n'
                '  <GeoTransform>500000.0, 0.5, 0.0, 5500000.0, 0.0, -0.5</GeoTransform>\n'
                '  <VRTRasterBand dataType="Byte" band="1">\n' + "\n".join(sources) +
                '\n  </VRTRasterBand>\n</VRTDataset>\n')


def vm_hwm_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def run(args, work, strip):
    out = os.path.join(work, f"out-{strip}.h5")
    for p in (out, out + ".partial"):
        if os.path.exists(p):
            os.remove(p)
    cmd = [args.atrous, "run", args.config, "--no-preview", "--log-format", "plain", "--restart",
           "--set", f"input.path={os.path.join(work, 'mosaic.vrt')}",
           "--set", f"model.weights={args.weights}",
           "--set", f"output.path={out}", "--set", "tile.executor=stream",
           "--set", f"tile.stream_strip={strip}", "--set", f"runtime.threads={args.threads}",
           "--set", "runtime.sync_interval=0.5"]
    start = time.monotonic()
    log_path = os.path.join(work, f"log-{strip}.txt")
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
    text, peak, tiles, stopped = "", 0.0, 0, False
    tiles_per_row = None
    while proc.poll() is None:
        time.sleep(0.2)
        peak = max(peak, vm_hwm_mib(proc.pid) or 0.0)
        with open(log_path) as f:
            text = f.read()
        if tiles_per_row is None:
            m = re.search(r"(\d+) strips of (\d+) px", text)
            if m:
                tiles_per_row = int(m.group(2)) // 256
            elif "full width" in text:
                tiles_per_row = -(-args.size // 256)
        found = re.findall(r"tiles (\d+)/\d+", text)
        tiles = int(found[-1]) if found else 0
        if (not stopped and tiles_per_row and tiles >= args.tiles * tiles_per_row) or \
                time.monotonic() - start > args.timeout:
            proc.send_signal(signal.SIGTERM)
            stopped = True
    log.close()
    with open(log_path) as f:
        text = f.read()
    plan = re.search(r"row buffers (per strip )?([\d.]+) MiB", text)
    strips = re.search(r"(\d+) strips of (\d+) px \(([\d.]+) x the FLOPs", text)
    return {"strip": strip, "strips": f"{strips.group(1)} x {strips.group(2)} px" if strips
            else "full width", "flops": strips.group(3) if strips else "1.000", "seconds": time.monotonic() - start, "tiles": tiles,
            "buffers": plan.group(2) if plan else "?", "peak": peak, "rc": proc.returncode,
            "log": text}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atrous", default="build/atrous")
    ap.add_argument("--config", default="configs/membrane.yaml")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--size", type=int, default=40000)
    ap.add_argument("--strips", default="1024,2048,4096")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tiles", type=int, default=2, help="tile rows of the first strip written")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--work", default="/tmp/atrous-stream-memory")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    source = os.path.join(args.work, "source.tif")
    if not os.path.exists(source):
        make_source(source)
    make_vrt(os.path.join(args.work, "mosaic.vrt"), source, args.size)
    print(f"{args.size} x {args.size} mosaic, {os.path.basename(args.weights)}, "
          f"{args.threads} threads; load average {os.getloadavg()[0]:.1f}")
    print("| tile.stream_strip | strips | planned FLOPs / one pass | planned row buffers MiB "
          "| tiles written at SIGTERM | seconds | peak RSS MiB | exit |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for strip in args.strips.split(","):
        r = run(args, args.work, strip)
        if r["rc"] not in (0, 75):
            sys.exit(f"strip {strip}: exit {r['rc']}\n{r['log'][-3000:]}")
        print(f"| {strip} | {r['strips']} | {r['flops']} | {r['buffers']} | {r['tiles']} | "
              f"{r['seconds']:.0f} | {r['peak']:.0f} | {r['rc']} |", flush=True)
        for p in (f"out-{strip}.h5", f"out-{strip}.h5.partial"):
            if os.path.exists(os.path.join(args.work, p)):
                os.remove(os.path.join(args.work, p))


if __name__ == "__main__":
    main()
