#!/usr/bin/env bash
# Set up holefill (see scripts/setup.sh) and remove the ladybird from the bundled example, a
# photo of the corpus's test split (no shipped model trained on it).
# Writes out/ladybird_filled.png (the fill) and out/ladybird_compare.png (before | after).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/holefill inpaint examples/ladybird.jpg --mask examples/ladybird_mask.png \
  -o out/ladybird_filled.png --compare out/ladybird_compare.png --overwrite "$@"
echo "wrote out/ladybird_filled.png and out/ladybird_compare.png"
