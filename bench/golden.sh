#!/bin/bash
# Generate every example spec for every target, and import the two trained models, into
# OUTDIR; combinations a backend refuses leave their error text in a .log beside them.
# Diff two such trees (before and after a change) to see which generated files it changed:
#   bench/golden.sh .venv/bin/mbdsl /tmp/before   (on the old commit)
#   bench/golden.sh .venv/bin/mbdsl /tmp/after && diff -r /tmp/before /tmp/after
# The .log files name the output folder, so they differ between any two folders.
set -u
[ $# -eq 2 ] || { echo "usage: bench/golden.sh MBDSL OUTDIR" >&2; exit 2; }
BIN=$(realpath "$1"); OUT=$(realpath -m "$2"); mkdir -p "$OUT"
cd "$(dirname "$0")/.."
for s in specs/*.mbn; do
  n=$(basename "$s" .mbn)
  for t in rtl hls gap8; do
    "$BIN" gen "$s" --target $t -o "$OUT/$n.$t" > "$OUT/$n.$t.log" 2>&1 || true
  done
done
for m in examples/digits/*.onnx; do
  n=$(basename "$m" .onnx)
  "$BIN" import "$m" -o "$OUT/import.$n.mbn" --verify 0 > "$OUT/import.$n.log" 2>&1 || true
done
