#!/usr/bin/env bash
# Train with several processes: tools/dist_train.sh CONFIG NPROC [train.py options]
# One machine: NPROC processes (one per GPU; on CPU, gloo and the cores shared between them).
# Several machines: run it on each with NNODES, NODE_RANK, MASTER_ADDR and PORT set (see README).
set -euo pipefail
CONFIG=$1
NPROC=$2
exec python -m torch.distributed.run \
  --nnodes="${NNODES:-1}" \
  --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" \
  --master_port="${PORT:-29500}" \
  --nproc_per_node="$NPROC" \
  "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"
