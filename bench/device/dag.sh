#!/usr/bin/env bash
# There (carry [".whl", ".whl_snakemake", ".bench_data/data"]): the workflow itself, `snakemake` with
# profiles/local, on config/paper.yaml restricted to fern and the named styles (every other key as
# committed), from an empty working directory results/dag/NAME (its own results/ folder), all
# GPU jobs packed on the one GPU by their declared gpu_mem_mb (--resources gpu_mem_mb=GPU_MEM_MB,
# default 140000 for one H200). Also GPU utilisation every 5 s (nvidia-smi dmon) and the report.
# Log: results/dag_NAME.log, ending in "DAG_DONE rc=N seconds=S" (start it with setsid; poll).
# usage: bench/device/dag.sh NAME STYLE ... [-- SNAKEMAKE ARGUMENTS, e.g. --config ...]
# pack:  bench/device/dag.sh --pack NAME OUT.tgz  (benchmarks, tables, figures, logs, metadata, eval JSONs; no videos/models)
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if [ "$1" = "--pack" ]; then
  run=results/dag/$2
  find "$run" \( -path "$run/results/benchmarks/*" -o -path "$run/results/logs/*" -o -path "$run/results/report/*" \
    -o -name metadata.json -o -name 'dmon.txt' -o -name 'config.yaml' -o -name 'report.json' \
    -o \( -path '*/eval/*.json' \) \) -type f \
    -not -name '*.mp4' -not -name '*.zip' -print0 | tar --null -czf "$3" -T - "results/dag_$2.log"
  exit
fi
name=$1; shift
styles=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do styles+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
run=$root/results/dag/$name
log=$root/results/dag_$name.log
rm -rf "$run" && mkdir -p "$run" /tmp/bin
export PYTHONPATH=$root:/tmp/site PYTHONUNBUFFERED=1 PYTHONPYCACHEPREFIX=/tmp/pycache
export STYLIZEDNERF_DATA=$root/.bench_data/data PATH=/tmp/bin:/tmp/site/bin:$PATH
py=${PY:-}  # PY=.venv/bin/python: a local check (e.g. `-- -n`) with an installed environment
if [ -z "$py" ]; then
  py=python3
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl .whl_snakemake/*.whl || exit 1
fi
ln -sf "$(cd "$(dirname "$(command -v "$py")")" && pwd)/$(basename "$py")" /tmp/bin/python  # the rules run `python -m stylizednerf`
"$py" - "$run/config.yaml" "${styles[@]}" <<'PY'
import sys, yaml
out, styles = sys.argv[1], sys.argv[2:]
cfg = yaml.safe_load(open("config/paper.yaml"))
cfg["scenes"] = {"fern": cfg["scenes"]["fern"]}
cfg["styles"] = {s: f"${{data}}/styles/{s}.jpg" for s in styles} if styles else cfg["styles"]
yaml.safe_dump(cfg, open(out, "w"), sort_keys=False)
PY
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  nvidia-smi dmon -s um -d 5 > "$run/dmon.txt" 2>&1 &
  dmon=$!
  start=$(date +%s)
  "$py" -m snakemake -s "$root/Snakefile" --directory "$run" --profile "$root/profiles/local" \
    --configfile "$run/config.yaml" --resources gpu_mem_mb="${GPU_MEM_MB:-140000}" --scheduler greedy "$@"
  rc=$?
  seconds=$(( $(date +%s) - start ))
  kill $dmon
  "$py" -m snakemake -s "$root/Snakefile" --directory "$run" --configfile "$run/config.yaml" \
    --report "$run/results/report/report.zip" > "$run/report_build.log" 2>&1
  echo "report: rc=$? $(du -h "$run/results/report/report.zip" 2>/dev/null | cut -f1)"
  echo "DAG_DONE rc=$rc seconds=$seconds"
} > "$log" 2>&1
