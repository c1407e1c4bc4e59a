#!/usr/bin/env bash
# Train RRF students on a leased GPU machine (training/README.md: "On a GPU"). Runs there, from the
# repo root, with the packed cache (python3 -m training.gpu.gpu_transfer pack: parts .gpu/a, .gpu/b, ...).
# One call carries 64 MiB with the working tree (about 28 MiB) included, so the parts travel one a
# call, each kept in $PACK by the machine until it goes back (30 s idle): make the calls back to back.
#
#   call 1, carrying .gpu/a:  STAGE=check MINUTES=0.3 bash training/gpu/gpu_train.sh
#           (keeps part a, then a short run of every RUNS entry on part a's faces alone)
#   calls 2.., carrying .gpu/b, then .gpu/c, ...:  STAGE=keep bash training/gpu/gpu_train.sh
#   last call, carrying the last part:  STAGE=train MINUTES=6 bash training/gpu/gpu_train.sh
#
# Each run in RUNS trains on a wall-clock cosine schedule, from the teacher's weights or from the
# shipped model (rebuilt there from public/models/ by training.recover_checkpoint); the runs share the
# GPU. What comes back ($OUT, at most 8 files of 16 MiB): each run's best checkpoint as float16
# weights (gpu_transfer shrink) and its train.log. DEVICE=cpu PACK=/tmp/pack RUNS_DIR=/tmp/runs
# PYTHON=/usr/bin/python3 runs the same steps here, as a dry run.
set -euo pipefail
: "${STAGE:?STAGE=check, keep or train}" "${OUT:=/tmp/out}"
BATCH=${BATCH:-256}
DEVICE=${DEVICE:-cuda}
AMP=$([ "$DEVICE" = cuda ] && echo --bf16 || true)
# name:patch:stride:input size:learning rate:start (teacher, or shipped: the model in public/models).
# Default: rrf56, the model short of its bar, on from its shipped weights at its shipped grid and
# size (5x5 at stride 14, 80 px), at two learning rates.
RUNS=${RUNS:-"rrf56-in80-lr1e-4:56:14:80:1e-4:shipped rrf56-in80-lr3e-4:56:14:80:3e-4:shipped"}
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}  # there: the image's python3, which holds PyTorch (and onnx, for the rebuild)
PACK=${PACK:-/root/pack}
RUNS_DIR=${RUNS_DIR:-/root/runs}
mkdir -p "$PACK" "$RUNS_DIR" "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true

# Keep every part this call carried.
for part in .gpu/*/; do
  [ -f "$part/range.txt" ] || continue
  name=$(basename "$part")
  rm -rf "${PACK:?}/$name" && cp -r "$part" "$PACK/$name"
  echo "kept part $name: faces $(cat "$part/range.txt")"
done
echo "parts kept on this machine: $(cd "$PACK" && ls | tr '\n' ' ')"
[ "$STAGE" = keep ] && exit 0
[ -f "$PACK/a/parts.tsv" ] || { echo "no part a here: carry .gpu/a first (the machine went back?)"; exit 2; }
"$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "cuda", torch.cuda.is_available())'

CACHE=/tmp/patchface-cache-$STAGE
rm -rf "$CACHE"
PARTIAL=$([ "$STAGE" = check ] && echo --partial || true)  # check: the parts at hand, a first
time "$PY" -m training.gpu.gpu_transfer unpack "$PACK"/*/ --out "$CACHE" --threads 16 $PARTIAL
# Runs from the teacher read its weights from face-api's folder (node_modules does not travel).
mkdir -p node_modules/@vladmandic/face-api/model
cp "$PACK"/a/face_recognition_model* node_modules/@vladmandic/face-api/model/

pids=()
for spec in $RUNS; do
  IFS=: read -r name patch stride size lr start <<<"$spec"
  run=$RUNS_DIR/$STAGE-$name
  rm -rf "$run"
  init=()
  if [ "$start" = shipped ]; then
    shipped=$RUNS_DIR/$STAGE-rrf$patch-shipped
    [ -f "$shipped/shipped.pt" ] ||
      "$PY" -m training.recover_checkpoint --id "rrf$patch" --run "$shipped" --cache "$CACHE" >/dev/null
    init=(--init "$shipped/shipped.pt")
  fi
  "$PY" -m training.train_rrf --patch "$patch" --stride "$stride" --input-size "$size" --lr "$lr" "${init[@]}" \
    --cache "$CACHE" --run "$run" --device "$DEVICE" $AMP --schedule time --minutes "${MINUTES:?}" \
    --steps 1000000000 --batch "$BATCH" --eval-every 100 --threads 2 >"$run.out" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader 2>/dev/null || true

for spec in $RUNS; do
  name=${spec%%:*}
  run=$RUNS_DIR/$STAGE-$name
  tail -n 4 "$run.out"
  if [ "$STAGE" = train ] && [ -f "$run/best.pt" ]; then
    "$PY" -m training.gpu.gpu_transfer shrink "$run/best.pt" "$OUT/$name.pt"
    cp "$run/train.log" "$OUT/$name.log"
  fi
done
exit $status
