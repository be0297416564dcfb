#!/usr/bin/env bash
# On the lent GPU machine, from the repository root, with .gpu carried (pack_recognizer_data.py's pack and
# .gpu/wheels/editdistance-*.whl): fine-tune the shipped recogniser for MINUTES of training and write the weights,
# log.tsv and train.log into OUT.  Usage: bash utils/gpu/device_run.sh OUT [MINUTES] [extra train_recognizer flags]
set -euo pipefail
out=${1:?usage: device_run.sh OUT [MINUTES] [flags...]}
minutes=${2:-7}
shift $(( $# >= 2 ? 2 : 1 ))
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/wheels/*.whl
export PYTHONPATH=/tmp/site
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi: no GPU here"
df -h /dev/shm | tail -1
python3 utils/gpu/train_recognizer.py --data .gpu --model models/handwriting_line --out "$out" --minutes "$minutes" \
    "$@" 2>&1 | tee "$out/train.log"
