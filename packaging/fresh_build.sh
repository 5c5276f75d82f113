#!/bin/sh
# Run a pip command that builds latentzip (pip install ., pip wheel .) with setuptools' build and
# egg-info folders in a fresh temporary folder, so no file left in build/lib by an earlier build
# (a deleted module, an old model set) can ship. Usage: sh packaging/fresh_build.sh PIP ARGS...
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[build]\nbuild_base = %s/build\n[egg_info]\negg_base = %s\n' "$tmp" "$tmp" > "$tmp/setup.cfg"
DIST_EXTRA_CONFIG="$tmp/setup.cfg" "$@"
