#!/bin/sh
# Installs what trkserve needs to build and test on Debian 12 (as root, or through
# sudo). Safe to run again. Set TRK_SETUP_SKIP_UPDATE=1 to skip 'apt-get update'.
set -eu
SUDO=
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: run as root or install sudo" >&2; exit 1; }
    SUDO=sudo
fi
PKGS="build-essential cmake ninja-build pkg-config git ca-certificates
      libcmocka-dev libconfig-dev libopenblas-dev zlib1g-dev libzstd-dev libcairo2-dev
      clang ocl-icd-opencl-dev pocl-opencl-icd clinfo
      hipcc libamdhip64-dev
      libmicrohttpd-dev libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
      libcurl4-openssl-dev libjansson-dev curl openssl python3-venv"
# nvcc is not a Debian package: install NVIDIA's CUDA toolkit for the CUDA module
# (CMake finds it on PATH or in /usr/local/cuda).
if [ "${TRK_SETUP_SKIP_UPDATE:-0}" != 1 ]; then
    $SUDO apt-get update -qq
fi
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
echo "setup: Debian packages installed"
