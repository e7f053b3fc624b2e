#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: atrous bf16 against fp32 on the seed U-Net, interleaved in one run (the machine is
# shared: each round runs every configuration once, the table takes medians over the rounds).
"""bench/bf16_speed.py [--bench build/bench/atrous_bench_unet] [--sizes 256,512] [--threads 1,2]
                       [--rounds 5] [--modes fp32,bf16,bf16:gemm]

Each round runs `atrous_bench_unet --size S --threads T --repeats 1 --warmup 1` once per mode
(fp32; bf16 = runtime.precision bf16 with its default bf16 Winograd; bf16:gemm = the bf16 GEMM
for every 3x3/2x2 convolution; bf16:fp32 = those in fp32 Winograd), in turn. Prints the medians
over the rounds of the wall and CPU (every thread of the process) milliseconds per forward and
the ratios against fp32, as a Markdown table, with the load average before and after.
"""
import argparse
import os
import re
import statistics
import subprocess


def run(bench, size, threads, mode):
    precision, _, wino = mode.partition(":")
    cmd = [bench, "--size", str(size), "--threads", str(threads), "--repeats", "1", "--warmup",
           "1", "--precision", precision]
    if wino:
        cmd += ["--bf16-winograd", wino]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = float(re.search(r"^median_ms ([\d.]+)", out, re.M).group(1))
    cpu = float(re.search(r"^median_cpu_ms ([\d.]+)", out, re.M).group(1))
    return wall, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default="build/bench/atrous_bench_unet")
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--modes", default="fp32,bf16,bf16:gemm")
    a = ap.parse_args()
    modes = a.modes.split(",")
    load0 = os.getloadavg()[0]
    print("| size | threads | " + " | ".join(f"{m} ms (cpu ms)" for m in modes) + " | " +
          " | ".join(f"{m} / fp32 wall (cpu)" for m in modes if m != "fp32") + " |")
    print("|---|---:|" + "---:|" * (2 * len(modes) - 1))
    for size in map(int, a.sizes.split(",")):
        for threads in map(int, a.threads.split(",")):
            times = {m: ([], []) for m in modes}
            for _ in range(a.rounds):
                for m in modes:
                    wall, cpu = run(a.bench, size, threads, m)
                    times[m][0].append(wall)
                    times[m][1].append(cpu)
            med = {m: (statistics.median(w), statistics.median(c)) for m, (w, c) in times.items()}
            cells = [f"{med[m][0]:.1f} ({med[m][1]:.1f})" for m in modes]
            ratios = [f"{med[m][0] / med['fp32'][0]:.2f} ({med[m][1] / med['fp32'][1]:.2f})"
                      for m in modes if m != "fp32"]
            print(f"| {size} | {threads} | " + " | ".join(cells + ratios) + " |", flush=True)
    print(f"\nload average (1 min): {load0:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"{a.rounds} rounds, medians")


if __name__ == "__main__":
    main()
