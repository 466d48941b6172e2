"""Turn `snakemake -n -p` output into a shell script that runs the same jobs in the same order.

For machines where the stages run but Snakemake itself is not installed (the GPU benchmark
machine): the commands are exactly the workflow's, in the dry run's scheduling order.

    snakemake -n -p --configfile config/paper.yaml > dry.txt
    python bench/jobs_from_dry_run.py dry.txt --skip evaluate report > jobs.sh   # rules to leave out
    bash jobs.sh          # writes <each log>.seconds next to each job's log; stops at the first failure
"""

import argparse
import re
import shlex
import sys


def jobs(text: str):
    """(rule, shell command) per job, in the order the dry run lists them."""
    rule = None
    for line in text.splitlines():
        match = re.match(r"^(?:local)?rule (\w+):$", line.strip())
        if match:
            rule = match.group(1)
        elif line.startswith("Shell command: ") and rule:
            command = line[len("Shell command: "):]
            if command != "None":  # target-only rules such as `all`
                yield rule, command
            rule = None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dry_run")
    parser.add_argument("--only", nargs="*", default=None, help="keep only these rules")
    parser.add_argument("--skip", nargs="*", default=[], help="leave these rules out")
    args = parser.parse_args(argv)
    with open(args.dry_run) as f:
        text = f.read()
    print("set -euo pipefail")
    for rule, command in jobs(text):
        if rule in args.skip or (args.only is not None and rule not in args.only):
            continue
        log = re.search(r"> (\S+) 2>&1$", command)
        log_file = log.group(1) if log else f"results/logs/{rule}.log"
        print(f"mkdir -p $(dirname {log_file}); echo '>>> {rule}' >&2; start=$(date +%s.%N)")
        print(f"{command} || {{ echo 'FAILED: {rule}' >&2; tail -20 {log_file} >&2; exit 1; }}")
        print(f"python3 -c \"print(round($(date +%s.%N) - $start, 2))\" > {shlex.quote(log_file + '.seconds')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
