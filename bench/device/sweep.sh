#!/usr/bin/env bash
# There, after setup.sh: a settings sweep of the stylized NeRF, one bench.sh process per variant,
# SWEEP_JOBS at a time on the one GPU (their times and FPS overlap: quality only, not speed), then the best
# variant alone on more styles (its times and FPS are then clean). Start it with setsid; poll
# results/sweep_NAME.log for SWEEP_DONE. Pack results with: bash bench/device/sweep.sh --pack NAME
#
# usage: [SWEEP_JOBS=2] [MORE_SEQUENTIAL=1] [MORE_ARGS="--arf ..."] \
#          bench/device/sweep.sh NAME "STYLE ..." "MORE STYLE ..." VARIANT=JSON ...
#   best = the highest mean style retained among the variants whose mean RMSE and LPIPS ratios to
#   per-frame AdaIN are <= 0.5 at every gap (the issue-14 bound); if none is, the most consistent
#   (lowest worst ratio) of those retaining >= 0.8 of the style; else the highest style retained.
#   Phase 2 runs the best variant alone on MORE STYLE; MORE_SEQUENTIAL=1 adds its sequential twin
#   (the same settings with "mutual": false, variant seq_BEST) and MORE_ARGS more bench/stylize.py
#   arguments (e.g. --arf, --joint), in the same process. MORE STYLE may be "" (no phase 2).
#   BENCH_RESULTS=DIR (see bench.sh) takes the upstream models from DIR instead of setup.sh's.
cd "$(dirname "$0")/../.."
if [ "$1" = "--pack" ]; then  # bench.json, frame grids, logs, losses: a small tarball for $OUT
  find "results/bench" -path "results/bench/$2*" \( -name bench.json -o -name '*.jpg' -o -name '*.log' \
    -o -name losses.json -o -name metadata.json \) -print0 | tar --null -czf "$3" -T - results/*.log
  exit
fi
name=$1 styles=$2 more=$3
shift 3
log=results/sweep_$name.log
export OMP_NUM_THREADS=2  # several processes share 16 cores
{
  echo "sweep $name: $(date -u +%T) variants: $*"
  for item in "$@"; do
    # at most SWEEP_JOBS at once: a stylize job with the 3D style term holds ~50 GB of the H200
    # (ray cache, CUDA-graph pools); six default jobs or three with the term ran out of memory
    while [ "$(jobs -rp | wc -l)" -ge "${SWEEP_JOBS:-2}" ]; do wait -n; done
    bash bench/device/bench.sh "${name}_${item%%=*}" --styles $styles --variant "$item" &
  done
  wait
  echo "phase 1 done $(date -u +%T)"
  best=$(python3 - "$name" "$@" <<'PY'
import json, sys
from pathlib import Path

name, items = sys.argv[1], sys.argv[2:]
scores = []
for item in items:
    variant = item.split("=", 1)[0]
    path = Path(f"results/bench/{name}_{variant}/bench.json")
    if not path.exists():
        continue
    s = json.loads(path.read_text())["summary"].get(variant, {})
    ratios = [v for k, v in s.items() if "ratio" in k and not k.startswith("median_")]  # the bound: the evaluation's warp
    if "style_retained_mean" in s:
        worst = max(ratios) if ratios else float("inf")
        scores.append((worst <= 0.5, s["style_retained_mean"], worst, item))
        print(variant, s, file=sys.stderr)
bounded = [(sr, item) for ok, sr, _, item in scores if ok]
styled = [(-worst, item) for _, sr, worst, item in scores if sr >= 0.8]
print(max(bounded or styled or [(sr, item) for _, sr, _, item in scores])[1] if scores else "")
PY
)
  echo "best: $best"
  if [ -n "$best" ] && [ -n "$more" ]; then
    extra=()
    if [ -n "${MORE_SEQUENTIAL:-}" ]; then  # {"a":1} -> {"a":1,"mutual":false}
      extra=(--variant "seq_${best%%=*}=$(python3 -c 'import json,sys; print(json.dumps({**json.loads(sys.argv[1]), "mutual": False}))' "${best#*=}")")
    fi
    bash bench/device/bench.sh "${name}_more_${best%%=*}" --styles $more --variant "$best" "${extra[@]}" ${MORE_ARGS:-}
  fi
  echo "SWEEP_DONE $(date -u +%T)"
} > "$log" 2>&1
