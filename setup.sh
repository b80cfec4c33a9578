#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs what is missing, builds, and then
#   ./setup.sh demo [DIR]   runs `strata demo` (a sample stack through every capability)
#   ./setup.sh test         runs the whole suite: ASan+UBSan build, then the TSan build
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(build-essential cmake pkg-config clang-format time bc
          openmpi-bin libopenmpi-dev libgdal-dev gdal-bin libjansson-dev libblosc-dev libzstd-dev zlib1g-dev libhdf5-dev
          libtiff-dev libdeflate-dev libcurl4-gnutls-dev
          python3-gdal python3-numpy python3-xarray python3-rioxarray python3-dask
          python3-flox python3-zarr python3-netcdf4 python3-fsspec python3-rasterio
          python3-dev python3-distributed python3-pytest python3-pyproj
          clang libclang-rt-14-dev)

install_missing() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    # The Zarr v3 test reads stores with zarrita.js: any node + npm will do (a machine may
    # have them from elsewhere than Debian, whose packages would then conflict).
    command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

build() { # build DIR [cmake options...]; TARGETS="a b" builds only those
    local dir=$1
    shift
    cmake -S . -B "$dir" "$@" >/dev/null
    # shellcheck disable=SC2086
    cmake --build "$dir" -j"$(nproc)" ${TARGETS:+--target $TARGETS}
}

# The seed's cookbook in Python (python/examples/cookbook.py) on the demo's stack, linked as
# the 0.tif..5.tif its code globs for.
python_cookbook() {
    local dir=$1 i=0 f
    mkdir -p "$dir/cookbook/crop_aligned_folder"
    for f in "$dir"/sample_*.tif; do
        ln -sf "$(realpath "$f")" "$dir/cookbook/crop_aligned_folder/$i.tif"
        i=$((i + 1))
    done
    echo "== The seed's cookbook in Python: from strata import DatasetCollection"
    PYTHONPATH=build/python /usr/bin/python3 python/examples/cookbook.py "$dir/cookbook"
}

# The fuzz build (only what its tests run) and the TSan build (it cannot share one with ASan).
side_builds() {
    TARGETS=fuzzers \
        build build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_BUILD_FUZZERS=ON \
        -DCMAKE_C_COMPILER=clang -DSTRATA_BUILD_BENCH=OFF -DSTRATA_FUZZ_SECONDS=10
    TARGETS=tsan_tests build build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DSTRATA_SANITIZE=thread -DSTRATA_BUILD_BENCH=OFF -DSTRATA_BUILD_PYTHON=OFF
}

run_tests() {
    build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE=address,undefined
    # The other two builds compile at the lowest priority while the ASan tests run, in the
    # time those spend waiting (on servers, MPI ranks, timeouts, interpreters starting).
    local log=build-asan/side-builds.log rc=0
    (renice -n 19 -p "$BASHPID" >/dev/null; side_builds) >"$log" 2>&1 &
    local side=$!
    ctest --test-dir build-asan --output-on-failure -j"$(nproc)" --timeout 600 || rc=$?
    if ! wait "$side"; then
        cat "$log"
        echo "setup: the fuzz or TSan build failed ($log)" >&2
        exit 1
    fi
    [ "$rc" -eq 0 ] || exit "$rc"
    # The parsers of outside text under libFuzzer (clang), 10 s each, one per core.
    ctest --test-dir build-fuzz --output-on-failure -L fuzz -j"$(nproc)" --timeout 600
    # Threaded tests again under ThreadSanitizer.
    ctest --test-dir build-tsan --output-on-failure -L tsan -j"$(nproc)" --timeout 600
}

case "${1:-}" in
demo)
    install_missing
    build build -DCMAKE_BUILD_TYPE=Release
    build/tools/strata demo "${2:-strata-demo}"
    python_cookbook "${2:-strata-demo}"
    ;;
test)
    install_missing
    run_tests
    ;;
*)
    echo "usage: $0 demo [DIR] | test" >&2
    exit 2
    ;;
esac
