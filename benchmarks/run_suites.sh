#!/usr/bin/env bash
# The degradation suites of the test splits (severity 2, seed 0), fused by the shipped defaults, earlier
# defaults kept in benchmarks/results/weights ("before"), pixel-max and the Laplacian pyramid, scored against
# the clean sources. IVF: before = the default before visible denoising (edge_nano_ivf_destripe), exposure =
# the opt-in over-exposure card (edge_nano_ivf_exposure), clamp = the clamp-only default of 2026-12-02
# (edge_nano_ivf_clamp).
# Medical: before = the same weights without the clamp.
# Usage: bash benchmarks/run_suites.sh [OUT] [DATA_ROOT]   (defaults: runs/suites, ../shared/data)
# Writes benchmarks/results/suite_<set>.{md,csv,json,png}. The medical split comes from
# python benchmarks/make_medical_split.py (data/medical_split).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/suites}"
DATA="${2:-../shared/data}"
RES=benchmarks/results
W=benchmarks/results/weights
[[ -d data/medical_split/test ]] || python benchmarks/make_medical_split.py --data "$DATA" >/dev/null
suite() {  # tag clean-dir model before-weights what-before-is [extra -m entries]
  local tag=$1 clean=$2 model=$3 before=$4 what=$5 extra=${6:-}
  local cmd1="edgefuse degrade --data $clean --out $OUT/$tag --severity 2 --seed 0"
  local cmd2="edgefuse eval --data $OUT/$tag --reference $clean -m $model -m before=$before ${extra:+$extra }-m max -m laplacian --metrics VIF,Qabf,SSIM,PSNR,MI"
  $cmd1 >/dev/null
  {
    echo "# ${tag%_test}/test degradation suite (severity 2, seed 0), scored against the clean sources"
    echo
    echo "Command: \`bash benchmarks/run_suites.sh\` ($(date -u +%Y-%m-%d)), which runs"
    echo "\`${cmd1/$OUT/OUT}\` and then"
    echo "\`${cmd2//$OUT/OUT}\`."
    echo "\`$model\` is the shipped default; \`before\` is $what."
    echo
    echo '```'
    edgefuse -q ${cmd2#edgefuse } --csv "$RES/suite_$tag.csv" --json "$RES/suite_$tag.json" --grid "$RES/suite_$tag.png" \
      | grep -v "^wrote " | sed "s#$OUT/#OUT/#g"
    echo '```'
  } > "$RES/suite_$tag.md"
  sed -i "s#\"$OUT/#\"OUT/#g" "$RES/suite_$tag.json"  # the suite folder as the page names it
  echo "wrote $RES/suite_$tag.md"
}
IVF_BEFORE="the default before visible denoising (the IR stages alone: black-level clamp, destriping, denoising), \`benchmarks/results/weights/edge_nano_ivf_destripe\`; \`exposure\` is the opt-in over-exposure card (the default plus \`vis_exposure\`); \`clamp\` the clamp-only default of 2026-12-02"
EXTRA="-m exposure=$W/edge_nano_ivf_exposure.safetensors -m clamp=$W/edge_nano_ivf_clamp.safetensors"
suite msrs_test "$DATA/msrs/test" edge_nano_ivf "$W/edge_nano_ivf_destripe.safetensors" "$IVF_BEFORE" "$EXTRA"
suite roadscene_test "$DATA/roadscene/test" edge_nano_ivf "$W/edge_nano_ivf_destripe.safetensors" "$IVF_BEFORE" "$EXTRA"
suite medical_test data/medical_split/test edge_nano_med "$W/edge_nano_med_noclamp.safetensors" "the same weights without the black-level clamp"
