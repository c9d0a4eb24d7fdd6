#!/usr/bin/env bash
# Wall time of `make run` after install, from an empty data/warehouse state, N times.
# Prints each run and the median.  Usage: bench/make_run_timing.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
make setup >/dev/null
times=()
for i in $(seq "$n"); do
  rm -rf data warehouse artifacts mlflow
  start=$(date +%s.%N)
  make run >/dev/null 2>&1
  end=$(date +%s.%N)
  t=$(echo "$end - $start" | bc)
  times+=("$t")
  printf 'run %d: %.1f s\n' "$i" "$t"
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "median make run: %.1f s over %d runs\n", a[int((NR+1)/2)], NR}'
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -m), Python $(python3 --version | cut -d' ' -f2)"
