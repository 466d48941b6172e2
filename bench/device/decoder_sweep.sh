#!/usr/bin/env bash
# There (carry [".whl", ".bench_data"]): bench/decoder.py once per variant, one at a time (clean
# times), on fern images_8 x the 19 styles with bench/decoder.py's 4 held-out styles; each variant
# stops at its plateau or after MAX_SECONDS (default 60, issue 18's budget) of training. Log:
# results/decoder_sweep_NAME.log, ending in DECODER_SWEEP_DONE (start it with setsid; poll).
# usage: bench/device/decoder_sweep.sh NAME 'VARIANT=ARGS' ...
#   e.g.   b8='--batch 8'   b32='--batch 32 --lr 2e-4 --plateau-window 250'
# pack:  bench/device/decoder_sweep.sh --pack NAME OUT.tgz   (results.json, samples.png, curve.png)
cd "$(dirname "$0")/../.."
if [ "$1" = "--pack" ]; then
  find results/decoder -path "results/decoder/$2_*" \( -name results.json -o -name samples.png -o -name curve.png \) \
    -not -path '*/decoder/decoder/*' -print0 | tar --null -czf "$3" -T - "results/decoder_sweep_$2.log"
  exit
fi
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 PYTHONPYCACHEPREFIX=/tmp/pycache
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
name=$1; shift
data=.bench_data/data
log=results/decoder_sweep_$name.log
mkdir -p results/decoder
{
  for item in "$@"; do
    variant=${item%%=*}
    echo "== $variant: ${item#*=} ($(date -u +%T))"
    # shellcheck disable=SC2086  # the variant's arguments split into words on purpose
    python3 bench/decoder.py --contents $data/scenes/fern/images_8 --styles $data/styles \
      --out "results/decoder/${name}_$variant" --stop plateau --iterations 100000 \
      --max-seconds "${MAX_SECONDS:-60}" ${item#*=} 2>&1 | grep -v "it/s]$" | tail -n 40
  done
  echo "DECODER_SWEEP_DONE $(date -u +%T)"
} > "$log" 2>&1
