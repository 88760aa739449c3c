#!/usr/bin/env bash
# One comparison table per test set: classical baselines, the CNN teacher, the distilled
# students (trainable and fixed adapters) and the same student trained without distillation.
# Usage: bash benchmarks/run_comparison.sh [RUNS_DIR] [DATA_ROOT]   (defaults: runs, ../shared/data)
# Writes benchmarks/results/comparison_<set>.{csv,json,md,png} and benchmarks/results/comparison.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-runs}"
DATA="${2:-../shared/data}"
RES=benchmarks/results
summary="$RES/comparison.md"
{
  echo "# Teacher, students and baselines"
  echo
  echo "Command: \`bash benchmarks/run_comparison.sh\` ($(date -u +%Y-%m-%d)). Weights: the runs of"
  echo "\`benchmarks/train_shipped.sh\` (model cards in edgefuse/assets/models/ and benchmarks/results/weights/)."
  echo "mean ± std over the pairs; * best of the compared entries; metric conventions in edgefuse/metrics/README.md."
} > "$summary"
ivf=(-m average -m max -m laplacian
     -m "teacher=$RUNS/edge_teacher/model.safetensors"
     -m "nano_kd=$RUNS/edge_nano_kd/model.safetensors"
     -m "nano_kd_fixed=$RUNS/edge_nano_kd_fixed/model.safetensors"
     -m "nano_plain=$RUNS/edge_nano_plain/model.safetensors")
med=(-m average -m max -m laplacian -m "nano_med=$RUNS/edge_nano_med/model.safetensors")
run() {  # tag data-dir args...
  local tag=$1 dir=$2; shift 2
  edgefuse -q eval --data "$dir" "$@" --csv "$RES/comparison_$tag.csv" --json "$RES/comparison_$tag.json" \
    --grid "$RES/comparison_$tag.png" | grep -v "^wrote " > "$RES/comparison_$tag.md"
  { echo; echo "## $tag"; echo; echo '```'; cat "$RES/comparison_$tag.md"; echo '```'; } >> "$summary"
}
run msrs_test "$DATA/msrs/test" "${ivf[@]}"
run roadscene_test "$DATA/roadscene/test" "${ivf[@]}"
if [[ -d data/medical_split/test ]]; then
  run medical_test data/medical_split/test "${med[@]}"
fi
cat "$summary"
