#!/usr/bin/env bash
# There (the device machine, in the checkout): install the carried wheels and train fern's upstream
# models into results/ with the pipeline's own commands: NeRF + training views, VAE and decoder
# side by side on the one GPU (~160 s on an H200). Log: results/setup.log.
cd "$(dirname "$0")/../.."
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 PYTHONPYCACHEPREFIX=/tmp/pycache
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
mkdir -p results && cp -r .bench_data/seed/* results/
J() { python3 -c "import json; print(json.dumps(json.load(open('.bench_data/settings.json'))['$1']))"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'
T0=$(date +%s)
( python3 -m stylizednerf pretrain-nerf --cameras results/fern/poses/cameras.json --out results/fern/nerf \
    --settings "$(J nerf)" --no-progress > results/log_nerf.txt 2>&1 &&
  python3 -m stylizednerf render-views --model results/fern/nerf/model.pt --cameras results/fern/poses/cameras.json \
    --out results/fern/views --settings '{"device": "cuda", "seed": 0}' > results/log_views.txt 2>&1 ) &
python3 -m stylizednerf train-vae --styles results/styles/*.png --out results/stylization2d --settings "$(J vae)" \
  --no-progress > results/log_vae.txt 2>&1 &
python3 -m stylizednerf pretrain-decoder --contents results/fern/poses/cameras.json --styles results/styles/*.png \
  --out results/stylization2d --settings "$(J decoder)" --no-progress > results/log_decoder.txt 2>&1 &
wait
echo "setup: $(( $(date +%s) - T0 )) s"
tail -n 2 results/log_nerf.txt results/log_views.txt results/log_vae.txt results/log_decoder.txt
# the GPU-only tests of the captured style-module step (CPU CI skips them): before any benchmark
python3 -m pytest -q -p no:cacheprovider tests/test_stylize_training.py -k cuda_graph > results/log_graph_tests.txt 2>&1
tail -n 1 results/log_graph_tests.txt
test -f results/fern/views/cameras.json -a -f results/stylization2d/decoder.pt -a -f results/stylization2d/style_latents.json
