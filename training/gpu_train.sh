#!/usr/bin/env bash
# Train RRF students on a leased GPU machine (training/README.md: "On a GPU"). Runs there, from the
# repo root, with the packed cache (training/gpu_transfer.py pack) carried in .gpu/a and .gpu/b.
# The lease carries 64 MiB per call, so part a travels in one call (STAGE=a: kept in /root/pack,
# plus a short check of this script on part a alone) and part b in the next (STAGE=b: the runs).
#
#   STAGE=a MINUTES=0.4 bash training/gpu_train.sh
#   STAGE=b MINUTES=7.5 bash training/gpu_train.sh
#
# Each run in RUNS trains from the teacher's weights on a wall-clock cosine schedule; the runs share
# the GPU. What comes back ($OUT, at most 8 files of 16 MiB): each run's best checkpoint as float16
# weights (gpu_transfer.py shrink) and its train.log.
set -euo pipefail
: "${STAGE:?STAGE=a or b}" "${MINUTES:?}" "${OUT:=/tmp/out}"
BATCH=${BATCH:-256}
DEVICE=${DEVICE:-cuda}  # cpu: a local dry run of this script
AMP=$([ "$DEVICE" = cuda ] && echo --bf16 || true)
# name:patch:stride:input size:learning rate (the shipped grids: rrf28 7x7 and rrf56 5x5, both at stride 14)
RUNS=${RUNS:-"rrf28-o14-in36-lr1e-3:28:14:36:1e-3 rrf28-o14-in36-lr4e-4:28:14:36:4e-4 rrf56-o14-in72-lr1e-3:56:14:72:1e-3 rrf56-o14-in72-lr4e-4:56:14:72:4e-4"}
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}  # there: the image's python3, which holds PyTorch
PACK=/root/pack
mkdir -p "$PACK" /root/runs "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, torch.cuda.is_available())'

if [ "$STAGE" = a ]; then
  rm -rf "$PACK/a" && cp -r .gpu/a "$PACK/a"
  PARTS=("$PACK/a")
else
  [ -d "$PACK/a" ] || { echo "no $PACK/a: run STAGE=a on this machine first (the machine went back?)"; exit 2; }
  PARTS=("$PACK/a" .gpu/b)
fi
CACHE=/root/cache-$STAGE
time "$PY" training/gpu_transfer.py unpack "${PARTS[@]}" --out "$CACHE" --threads 16
# The trunk starts from the teacher's weights, which train_rrf reads from face-api's folder.
mkdir -p node_modules/@vladmandic/face-api/model
cp "$PACK"/a/face_recognition_model* node_modules/@vladmandic/face-api/model/

pids=()
for spec in $RUNS; do
  IFS=: read -r name patch stride size lr <<<"$spec"
  run=/root/runs/$STAGE-$name
  rm -rf "$run"
  "$PY" training/train_rrf.py --patch "$patch" --stride "$stride" --input-size "$size" --lr "$lr" \
    --cache "$CACHE" --run "$run" --device "$DEVICE" $AMP --schedule time --minutes "$MINUTES" \
    --steps 1000000000 --batch "$BATCH" --eval-every 100 --threads 2 >"$run.out" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader || true

for spec in $RUNS; do
  name=${spec%%:*}
  run=/root/runs/$STAGE-$name
  tail -n 4 "$run.out"
  if [ "$STAGE" = b ] && [ -f "$run/best.pt" ]; then
    "$PY" training/gpu_transfer.py shrink "$run/best.pt" "$OUT/$name.pt"
    cp "$run/train.log" "$OUT/$name.log"
  fi
done
exit $status
