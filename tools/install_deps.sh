#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Purpose: install every Debian 12 package atrous needs to build, test and run its tools.
# Idempotent: does nothing (no apt-get update) when every package is already installed.
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config git
  libgdal-dev gdal-bin libhdf5-dev libhdf5-openmpi-dev hdf5-tools
  libopenmpi-dev openmpi-bin openssh-client libtbb-dev libyaml-cpp-dev
  slurm-wlm munge
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libzip-dev nettle-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang-format
  clang-14 libclang-rt-14-dev
  python3 python3-numpy python3-h5py python3-torch python3-gdal python3-yaml
  python3-netcdf4 python3-xarray python3-rioxarray
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install_deps: installing ${missing[*]}"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
