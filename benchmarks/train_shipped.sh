#!/usr/bin/env bash
# The training runs behind the shipped weights and the comparison table (CPU, 2 cores).
# Each run resumes from its last.pt when restarted. Usage: bash benchmarks/train_shipped.sh [stage]
# stages: teacher | students (includes medical) | medical | all (default all) | dtpf_cpu (not in all). Logs: runs/<name>.out, runs/<name>/log.csv
# Then: python benchmarks/ship_models.py (copies the runs into the package; the shipped students get the
# black-level clamp in their cards), bash benchmarks/run_comparison.sh, and
# python benchmarks/card_metrics.py --model edge_nano_ivf --write (and --model edge_nano_med) for the card metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data
IVF=(--data "$D/msrs/train" --data "$D/roadscene/train")
ITERS=3000
stage="${1:-all}"
mkdir -p runs
if [[ $stage == teacher || $stage == all ]]; then
  edgefuse train --mode teacher --model edge_teacher "${IVF[@]}" --iters 4000 --batch 8 --lr 1e-3 \
    --val-every 500 --val-pairs 6 --ckpt-every 250 --threads 2 --out runs/edge_teacher > runs/edge_teacher.out 2>&1
fi
if [[ $stage == students || $stage == all ]]; then
  # distilled (trainable adapters, the default) and DTPF's fixed random adapters, in parallel
  edgefuse distill --teacher runs/edge_teacher/model.safetensors --model edge_nano "${IVF[@]}" --iters $ITERS \
    --batch 8 --lr 1e-3 --val-every 500 --val-pairs 6 --ckpt-every 250 --threads 1 --out runs/edge_nano_kd \
    > runs/edge_nano_kd.out 2>&1 &
  edgefuse distill --teacher runs/edge_teacher/model.safetensors --model edge_nano "${IVF[@]}" --iters $ITERS \
    --batch 8 --lr 1e-3 --val-every 500 --val-pairs 6 --ckpt-every 250 --threads 1 --fixed-adapters \
    --out runs/edge_nano_kd_fixed > runs/edge_nano_kd_fixed.out 2>&1 &
  wait
  # the same student, same budget, no teacher (the paper's ablation)
  edgefuse train --mode student --model edge_nano "${IVF[@]}" --iters $ITERS --batch 8 --lr 1e-3 \
    --val-every 500 --val-pairs 6 --ckpt-every 250 --threads 1 --out runs/edge_nano_plain > runs/edge_nano_plain.out 2>&1 &
fi
if [[ $stage == students || $stage == medical || $stage == all ]]; then
  # the medical student (same recipe, DTPF's medical default loss weights), beside the plain run
  python benchmarks/make_medical_split.py
  edgefuse train --mode student --model edge_nano --task medical --data data/medical_split/train --iters $ITERS \
    --batch 8 --lr 1e-3 --val-every 500 --val-pairs 4 --ckpt-every 250 --threads 1 --out runs/edge_nano_med \
    > runs/edge_nano_med.out 2>&1 &
fi
wait
if [[ $stage == dtpf_cpu ]]; then
  # Not shipped: a short CPU run of the paper-size DTPF student, used only to export and check real (not random)
  # weights in benchmarks/results/export_parity.md. Run on 2026-11-26 with --iters 240 and stopped after the
  # iteration-120 validation (about 16 s per iteration here); its model.safetensors is the iteration-120
  # checkpoint (holdout VIF 0.806, Qabf 0.420: far from converged).
  edgefuse train --mode student --model dtpf_student "${IVF[@]}" --iters 240 --batch 2 --crop 128 --lr 5e-4 \
    --val-every 120 --val-pairs 2 --ckpt-every 20 --threads 1 --out runs/dtpf_student_cpu > runs/dtpf_student_cpu.out 2>&1
fi
