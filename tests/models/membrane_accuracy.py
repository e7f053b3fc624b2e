#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: CTest check that models/membrane.h5 run by `atrous run` segments held-out ISBI slices
# 25-29 with pixel accuracy >= 0.90 and membrane F1 >= 0.75, and that its float32 probabilities
# equal PyTorch's within 1e-4 at every pixel (tools/eval_membrane.py does it).
"""Usage: membrane_accuracy.py ATROUS_EXECUTABLE

Exit 0: targets met; 1: not met or atrous failed; 77 (CTest SKIP_RETURN_CODE): the data set
../shared/data/em_membrane_isbi2012_unet is absent (it is not part of the repository)."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import eval_membrane  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    # Tile 512 (exact halo: the same mask as configs/membrane.yaml's 256) halves the compute.
    sys.exit(eval_membrane.main(["--atrous", sys.argv[1], "--threads", "2", "--tile", "512"]))
