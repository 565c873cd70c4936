#!/usr/bin/env bash
# Checks tributary-export --format=llmc against llm.c's own reader: builds
# karpathy/llm.c's train_gpt2.c (CPU, plain C) in a temporary directory,
# has it load the exported checkpoint and train on the fortunes as bytes,
# and compares the val loss it prints at step 0 with ours (build/bin/llmc_loss)
# on the same batches. Nothing of llm.c is kept or committed.
#
#   tools/check-llmc-export.sh LLMC_SOURCE_DIR [CHECKPOINT]
#
# LLMC_SOURCE_DIR: a checkout of https://github.com/karpathy/llm.c (holds
# train_gpt2.c and llmc/). CHECKPOINT: a checkpoint file or state dir of a
# gpt job; without it, a small GPT (2 layers, 64 channels, 64-byte context)
# is trained for a minute on 127.0.0.1 first. Needs gcc, python3 (no torch)
# and a build (tools/build.sh). Not part of ctest: it needs llm.c's source.
#
# train_gpt2.c hard-codes its file names, B = 4 and T = 64: here it runs in
# the temporary directory with gpt2_124M.bin (the export), a byte tokenizer
# (gpt2_tokenizer.bin: token i = byte i, EOT = '\n') and
# dev/data/tinyshakespeare/tiny_shakespeare_{train,val}.bin (the fortunes in
# its token format), and T is set to the model's context in a copy of the
# source (our model reads exactly its context; llm.c allows T <= maxT).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ $# -lt 1 ] || [ ! -f "$1/train_gpt2.c" ]; then
  echo "usage: tools/check-llmc-export.sh LLMC_SOURCE_DIR [CHECKPOINT]  (LLMC_SOURCE_DIR holds train_gpt2.c)" >&2
  exit 2
fi
llmc=$(cd "$1" && pwd)
checkpoint=${2:-}
for bin in tributary-export llmc_loss tributary-coordinator tributary-worker; do
  [ -x "build/bin/$bin" ] || { echo "check-llmc-export: build/bin/$bin missing; run tools/build.sh" >&2; exit 1; }
done

work=$(mktemp -d /tmp/tributary-llmc.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The fortunes as one text: 90 % to train on, the last 10 % for val.
find /usr/share/games/fortunes -type f ! -name '*.dat' ! -name '*.u8' | sort | xargs cat > "$work/corpus.txt"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if [ -z "$checkpoint" ]; then
  cat > "$work/job.textproto" <<EOF
name: "llmc-check"
model { gpt { layers: 2 heads: 4 channels: 64 context: 64 } }
data { text { files: "$work/corpus.txt" eval_fraction: 0.1 } shard_examples: 64 }
eval { interval_versions: 100 max_examples: 200 }
optimizer { kind: ADAMW lr: 0.003 warmup_steps: 50 clip_norm: 1 }
budget { seconds: 60 }
EOF
  grpc=$(free_port)
  echo "check-llmc-export: training a small GPT for 60 s (logs in $work)"
  build/bin/tributary-coordinator --job="$work/job.textproto" --listen=127.0.0.1:"$grpc" \
    --http=127.0.0.1:"$(free_port)" --state_dir="$work/state" --exit_when_done 2>"$work/coordinator.log" &
  coordinator=$!
  pids+=("$coordinator")
  build/bin/tributary-worker --coordinator=127.0.0.1:"$grpc" --threads=1 --name=llmc-check \
    >/dev/null 2>"$work/worker.log" &
  worker=$!
  pids+=("$worker")
  wait "$coordinator" || { tail -20 "$work/coordinator.log" >&2; exit 1; }
  kill "$worker" 2>/dev/null || true
  wait "$worker" 2>/dev/null || true
  grep "final:" "$work/coordinator.log" | sed 's/.*final: /check-llmc-export: trained: /' || true
  checkpoint="$work/state"
fi

build/bin/tributary-export --checkpoint="$checkpoint" --format=llmc --out="$work/gpt2_124M.bin"
maxT=$(python3 -c 'import struct, sys; print(struct.unpack("<8i", open(sys.argv[1], "rb").read(32))[2])' \
  "$work/gpt2_124M.bin")

# llm.c's token files (llmc/dataloader.h) and a tokenizer of single bytes
# (llmc/tokenizer.h, version 2).
python3 - "$work" <<'EOF'
import array, os, struct, sys
work = sys.argv[1]
text = open(f"{work}/corpus.txt", "rb").read()
split = len(text) * 9 // 10
os.makedirs(f"{work}/dev/data/tinyshakespeare")
for name, part in (("train", text[:split]), ("val", text[split:])):
    with open(f"{work}/dev/data/tinyshakespeare/tiny_shakespeare_{name}.bin", "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, len(part), *[0] * 253))
        f.write(array.array("H", list(part)).tobytes())  # one uint16 per byte
with open(f"{work}/gpt2_tokenizer.bin", "wb") as f:
    f.write(struct.pack("<256I", 20240328, 2, 256, ord("\n"), *[0] * 252))
    for i in range(256):
        f.write(bytes([1, i]))
EOF

sed "s/int T = 64;/int T = $maxT;/" "$llmc/train_gpt2.c" > "$work/train_gpt2.c"
grep -q "int T = $maxT;" "$work/train_gpt2.c" || { echo "check-llmc-export: train_gpt2.c has no 'int T = 64;'" >&2; exit 1; }
gcc -O3 -Wno-unused-result -I "$llmc" "$work/train_gpt2.c" -lm -o "$work/train_gpt2"
echo "check-llmc-export: running llm.c's train_gpt2 (B=4, T=$maxT) on the export"
(cd "$work" && ./train_gpt2) > "$work/llmc.log" 2>&1 ||
  { echo "check-llmc-export: train_gpt2 failed:" >&2; tail -20 "$work/llmc.log" >&2; exit 1; }
grep -E "^(max_seq_len|vocab_size|padded_vocab_size|num_layers|num_heads|channels|num_parameters):|val loss|^step (0|1|40):" \
  "$work/llmc.log" | sed 's/^/  llm.c: /'

theirs=$(grep -m1 "^val loss" "$work/llmc.log" | awk '{print $3}')
ours_line=$(build/bin/llmc_loss --checkpoint="$checkpoint" --tokens="$work/dev/data/tinyshakespeare/tiny_shakespeare_val.bin")
echo "  $ours_line"
ours=$(echo "$ours_line" | awk '{print $4}')
grep -q "^step 40: train loss" "$work/llmc.log" || { echo "check-llmc-export: train_gpt2 did not finish its steps" >&2; exit 1; }
python3 - "$theirs" "$ours" <<'EOF'
import sys
theirs, ours = map(float, sys.argv[1:])
ok = abs(theirs - ours) <= 1e-3
print(f"check-llmc-export: step-0 val loss: llm.c {theirs:.6f}, ours {ours:.6f}, "
      f"difference {abs(theirs - ours):.2g}: {'OK' if ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
EOF
