#!/usr/bin/env bash
# One prepared GPU session (about 10 minutes on one H100): the torch CUDA benchmark of every model, the GPU tests,
# then a time-boxed paper-size DTPF run on the GPU: text-guided teacher, then the student distilled from it.
# Run from the repository root on a CUDA machine whose python3 has torch (no install needed: PYTHONPATH=.):
#   OUT=out/gpu DATA=carry/data TEXT_CACHE=carry/runs/.text_cache bash benchmarks/gpu_check.sh
# DATA holds msrs_train/ and roadscene_train/ (copies of ../shared/data/{msrs,roadscene}/train); TEXT_CACHE holds the
# MiniLM prompt embeddings (runs/.text_cache after any teacher run here), so the teacher needs no text model there.
# Everything worth keeping lands in OUT (at most 5 files): checks.txt, bench_gpu_<gpu>.{md,json}, train_runs.tgz,
# dtpf_student_gpu_fp16.safetensors.
set -u
OUT=${OUT:-out/gpu}
DATA=${DATA:-carry/data}
TEXT_CACHE=${TEXT_CACHE:-carry/runs/.text_cache}
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
mkdir -p "$OUT" gpu_runs
cp -r "$TEXT_CACHE" gpu_runs/.text_cache 2>/dev/null
log=$OUT/checks.txt
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  $PY -c "import torch, onnxruntime as o; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'onnxruntime', o.__version__, o.get_available_providers())"; } > "$log" 2>&1

echo "== bench_gpu ($(date -u +%T))" >> "$log"
[[ ${SKIP_BENCH:-0} == 1 ]] || timeout 200 $PY benchmarks/bench_gpu.py --out "$OUT" >> "$log" 2>&1; echo "exit $?" >> "$log"

echo "== pytest GPU tests ($(date -u +%T))" >> "$log"
timeout 60 $PY -m pytest -p no:cacheprovider -q -rs tests/backends/test_cuda.py tests/train/test_loop.py \
  -k "cuda or device" >> "$log" 2>&1; echo "exit $?" >> "$log"

IVF=(--data "$DATA/msrs_train" --data "$DATA/roadscene_train")
# DTPF recipe (PAPER_SPEC 2.3): batch 4, 128x128 crops; lr 5e-4 instead of 1e-4 for this short, time-boxed run
echo "== train dtpf_teacher ($(date -u +%T))" >> "$log"
timeout 180 $PY -m edgefuse.cli.main train --mode teacher --model dtpf_teacher "${IVF[@]}" --iters 1000 \
  --batch 4 --crop 128 --lr 5e-4 --val-every 1000 --val-pairs 2 --ckpt-every 100 --max-minutes ${TEACHER_MIN:-2.0} \
  --device cuda --out gpu_runs/dtpf_teacher > gpu_runs/dtpf_teacher.out 2>&1; echo "exit $?" >> "$log"
echo "== distill dtpf_student ($(date -u +%T))" >> "$log"
timeout 150 $PY -m edgefuse.cli.main distill --teacher gpu_runs/dtpf_teacher/model.safetensors \
  --model dtpf_student "${IVF[@]}" --iters 1000 --batch 4 --crop 128 --lr 5e-4 --val-every 1000 --val-pairs 2 \
  --ckpt-every 100 --max-minutes ${STUDENT_MIN:-1.7} --device cuda --out gpu_runs/dtpf_student > gpu_runs/dtpf_student.out 2>&1
echo "exit $?" >> "$log"
echo "== done ($(date -u +%T))" >> "$log"
tar czf "$OUT/train_runs.tgz" --exclude='*.pt' --exclude='*.safetensors' --exclude='.text_cache' gpu_runs
$PY - "$OUT" <<'PYEOF' >> "$log" 2>&1
import sys
from pathlib import Path
from safetensors.torch import load_file, save_file
src = Path("gpu_runs/dtpf_student/model.safetensors")
if src.is_file():
    save_file({k: v.half() for k, v in load_file(src).items()}, Path(sys.argv[1]) / "dtpf_student_gpu_fp16.safetensors")
    print("saved FP16 copy of", src)
PYEOF
cat "$log"
