#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: wall time of `atrous run` with tile.executor: stream (halo exact) against a halo-0
# tiled run of the same configuration, interleaved rounds, medians, per thread count: the
# issue-13 ratio (target <= 1.25x) as a user meets it (model load, read, write included).
"""stream / halo-0 wall ratio of `atrous run`.

    bench/stream_ratio.py --atrous build/atrous --config configs/membrane.yaml \
        --input scene.tif [--size 2048] [--threads 2,1] [--rounds 5] [--work DIR] \
        [--exact-tiles] [--strips full,1024,512]

Without --input, a --size x --size 8-bit tiled GeoTIFF (smooth sine pattern + noise) is made
in --work. Each round runs every executor once per thread count, in turn; the table gives
medians over the rounds of the process wall time and of the run's own loop seconds (report
"seconds.wall"), and the 1-minute load average before and after. --exact-tiles adds the tile
executor with the exact halo (what exact cost before the stream) as a third executor, and the
stream's FLOP ratio (report "flop_ratio": FLOPs computed / one whole-image pass). --strips
adds the stream with each tile.stream_strip given (the plain "stream" row runs auto) and a table
of their wall times, ratios to halo-0, FLOP ratios and peak RSS (report "peak_rss_mb").
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

EXECUTORS = {
    "stream": ["--set", "tile.executor=stream", "--set", "tile.halo=exact"],
    "halo-0": ["--set", "tile.executor=tiles", "--set", "tile.halo=0"],
}


def make_scene(path, size):
    import numpy as np
    from osgeo import gdal

    y, x = np.mgrid[0:size, 0:size]
    rng = np.random.default_rng(1)
    img = 127 + 80 * np.sin(x / 37.0) * np.cos(y / 23.0) + rng.normal(0, 20, (size, size))
    ds = gdal.GetDriverByName("GTiff").Create(path, size, size, 1, gdal.GDT_Byte, ["TILED=YES"])
    ds.GetRasterBand(1).WriteArray(img.clip(0, 255).astype(np.uint8))
    ds = None


def run_once(args, executor, threads, out):
    for suffix in ("", ".partial", ".report.json"):
        p = out + suffix if suffix != ".report.json" else out[:-3] + ".report.json"
        if os.path.exists(p):
            os.remove(p)
    cmd = [args.atrous, "run", args.config, "--no-preview", "--log-format", "plain", "--restart",
           "--set", f"input.path={os.path.abspath(args.input)}", "--set", f"output.path={out}",
           "--set", f"runtime.threads={threads}"] + EXECUTORS[executor] + args.set_
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{executor}: exit {proc.returncode}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    with open(out[:-3] + ".report.json") as f:
        report = json.load(f)
    rss = report.get("peak_rss_mb") or 0.0
    return wall, report["seconds"]["wall"], report.get("flop_ratio") or 0.0, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atrous", default="build/atrous")
    ap.add_argument("--config", default="configs/membrane.yaml")
    ap.add_argument("--input")
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--threads", default="2,1")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work")
    ap.add_argument("--exact-tiles", action="store_true",
                    help="also run tiles with the exact halo")
    ap.add_argument("--strips", default="",
                    help="also run the stream with these tile.stream_strip values")
    ap.add_argument("--set", dest="set_", action="append", default=[],
                    help="extra --set for every run (KEY=VALUE)")
    args = ap.parse_args()
    args.set_ = [x for kv in args.set_ for x in ("--set", kv)]
    work = args.work or tempfile.mkdtemp(prefix="atrous-stream-ratio.")
    os.makedirs(work, exist_ok=True)
    if not args.input:
        args.input = os.path.join(work, f"scene{args.size}.tif")
        if not os.path.exists(args.input):
            make_scene(args.input, args.size)
    if args.exact_tiles:
        EXECUTORS["tiles-exact"] = ["--set", "tile.executor=tiles", "--set", "tile.halo=exact"]
    strips = [x for x in args.strips.split(",") if x]
    for w in strips:
        EXECUTORS[f"stream-{w}"] = EXECUTORS["stream"] + ["--set", f"tile.stream_strip={w}"]
    threads = [int(t) for t in args.threads.split(",")]
    times = {(e, t): [] for e in EXECUTORS for t in threads}
    load_before = os.getloadavg()[0]
    for r in range(args.rounds):
        for t in threads:
            for e in EXECUTORS:
                times[(e, t)].append(run_once(args, e, t, os.path.join(work, f"{e}.h5")))
        print(f"round {r + 1}: " + ", ".join(
            f"{e} t{t} {times[(e, t)][-1][0]:.2f} s" for t in threads for e in EXECUTORS),
            file=sys.stderr)
    load_after = os.getloadavg()[0]
    print(f"{os.path.basename(args.input)}, {args.config}, {args.rounds} interleaved rounds, "
          f"medians; load average (1 min) {load_before:.1f} before, {load_after:.1f} after")
    exact = "tiles-exact" in EXECUTORS
    print("| threads | stream wall s (loop s) | halo-0 wall s (loop s) | stream / halo-0 wall "
          "(loop) |" + (" exact tiles wall s (loop s) | exact tiles / halo-0 wall |"
                        " stream FLOP ratio |" if exact else ""))
    print("|---:|---:|---:|---:|" + ("---:|---:|---:|" if exact else ""))
    for t in threads:
        s = [statistics.median(x) for x in zip(*times[("stream", t)])]
        h = [statistics.median(x) for x in zip(*times[("halo-0", t)])]
        line = (f"| {t} | {s[0]:.2f} ({s[1]:.2f}) | {h[0]:.2f} ({h[1]:.2f}) | "
                f"**{s[0] / h[0]:.2f}** ({s[1] / h[1]:.2f}) |")
        if exact:
            x = [statistics.median(v) for v in zip(*times[("tiles-exact", t)])]
            line += f" {x[0]:.2f} ({x[1]:.2f}) | {x[0] / h[0]:.2f} | {s[2]:.3f} |"
        print(line)
    if strips:
        print("\n| threads | tile.stream_strip | wall s (loop s) | / halo-0 wall | FLOP ratio "
              "| peak RSS MiB |")
        print("|---:|---|---:|---:|---:|---:|")
        for t in threads:
            h = statistics.median(x[0] for x in times[("halo-0", t)])
            for e in ["stream"] + [f"stream-{w}" for w in strips]:
                m = [statistics.median(x) for x in zip(*times[(e, t)])]
                name = "auto" if e == "stream" else e[len("stream-"):]
                print(f"| {t} | {name} | {m[0]:.2f} ({m[1]:.2f}) | {m[0] / h:.2f} | {m[2]:.3f} "
                      f"| {m[3]:.0f} |")


if __name__ == "__main__":
    main()
