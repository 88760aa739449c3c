#!/usr/bin/env bash
# Classical baselines on the shared test sets: the reference rows of every later table.
# Usage: bash benchmarks/run_baselines.sh [DATA_ROOT]   (default ../shared/data)
# Writes benchmarks/results/baselines_<set>.{csv,json,md,png} and benchmarks/results/baselines.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data}"
RES=benchmarks/results
mkdir -p "$RES"
summary="$RES/baselines.md"
{
  echo "# Classical baselines"
  echo
  echo "Command: \`bash benchmarks/run_baselines.sh\` ($(date -u +%Y-%m-%d), edgefuse $(python -c 'import edgefuse; print(edgefuse.__version__)'))."
  echo "Metric conventions: edgefuse/metrics/README.md. mean ± std over the pairs; * best of the three."
} > "$summary"
for set in msrs/test roadscene/test harvard/mri_ct harvard/mri_pet; do
  tag="${set//\//_}"
  edgefuse eval --data "$DATA/$set" -m average -m max -m laplacian \
    --csv "$RES/baselines_$tag.csv" --json "$RES/baselines_$tag.json" --grid "$RES/baselines_$tag.png" \
    | grep -v "^wrote " > "$RES/baselines_$tag.md"
  { echo; echo "## $set"; echo; echo '```'; cat "$RES/baselines_$tag.md"; echo '```'; } >> "$summary"
done
cat "$summary"
