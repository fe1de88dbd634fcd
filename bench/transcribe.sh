#!/usr/bin/env bash
# Seed 000's transcription: accuracy, speed and throughput of silo's
# POST /v1/audio/transcriptions (engine pocketsphinx) against the bare
# engine on the same clips.
#
#   1. WER on the five LibriVox clips of Debian's pocketsphinx-testdata,
#      scored by sclite (Debian's sctk) against the clips' references, for
#      silo and for bench/transcribe_bare.c (libpocketsphinx alone, decoding
#      each clip as pocketsphinx_continuous would). silo must be within
#      2 points of the bare engine: the script fails otherwise.
#   2. Real-time factor (decoding seconds per second of audio): silo's is
#      the wall time of sequential requests, the bare engine's its decoding
#      time.
#   3. Throughput with 1, 2 and 4 requests at once (silo with 4 workers):
#      seconds of audio transcribed per wall second, and requests per minute.
#
# Needs: make all, sctk, pocketsphinx-testdata (sh scripts/deps.sh bench).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

CLIPS=/usr/share/pocketsphinx/test/data/librivox
MODEL=/usr/share/pocketsphinx/model/en-us
SCLITE=/usr/lib/sctk/bin/sclite
ROUNDS=${ROUNDS:-8} # requests per concurrency level
for need in "$CLIPS/transcription" "$MODEL" "$SCLITE"; do
    [ -e "$need" ] || { echo "missing $need (sh scripts/deps.sh bench)"; exit 1; }
done
make -s all build/bench/transcribe_bare
work=$(mktemp -d /tmp/silo-transcribe-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
clips=("$CLIPS"/*.wav)
audio=$(for c in "${clips[@]}"; do ffprobe -v error -show_entries format=duration -of csv=p=0 "$c"; done |
    awk '{s += $1} END {printf "%.2f", s}')

# The references, as sclite trn lines without the sentence markers.
sed -e 's/<s> //; s/ <\/s>//' "$CLIPS/transcription" >"$work/ref.trn"

wer() { # trn file -> WER in percent (sclite's Sum/Avg Err)
    "$SCLITE" -r "$work/ref.trn" trn -h "$1" trn -i rm -o sum stdout | awk '/Sum\/Avg/ {print $(NF-2)}'
}

# ---- the bare engine ----
./build/bench/transcribe_bare "$MODEL" "${clips[@]}" >"$work/bare.trn" 2>"$work/bare.err"
bare_rtf=$(sed -n 's/.*real-time factor //p' "$work/bare.err")

# ---- silo ----
silo_start --workers 4 --threads 8
token=$("$SILO" token --sub bench --data "$SILO_DIR/data")
post() { # clip [format] -> body
    curl -sf "$SILO_API/v1/audio/transcriptions" -H "Authorization: Bearer $token" -F "file=@$1" \
        -F model=whisper-1 -F "response_format=${2:-text}"
}
warm=()
for _ in 1 2 3 4; do # builds the 4 workers' decoders
    post "${clips[1]}" >/dev/null &
    warm+=($!)
done
wait "${warm[@]}"
started=$(date +%s.%N)
: >"$work/silo.trn"
for c in "${clips[@]}"; do
    id=$(basename "$c" .wav)
    printf '%s (%s)\n' "$(post "$c" | tr -d '\n')" "$id" >>"$work/silo.trn"
done
silo_rtf=$(awk -v s="$started" -v e="$(date +%s.%N)" -v a="$audio" 'BEGIN {printf "%.3f", (e - s) / a}')

bare_wer=$(wer "$work/bare.trn")
silo_wer=$(wer "$work/silo.trn")
echo "clips: ${#clips[@]} LibriVox clips, $audio s of audio"
echo "WER (sclite): silo $silo_wer %, bare pocketsphinx $bare_wer %"
echo "real-time factor: silo $silo_rtf (sequential HTTP requests, wall), bare $bare_rtf (decoding only)"
if ! diff -q "$work/bare.trn" "$work/silo.trn" >/dev/null; then
    echo "transcripts that differ:"
    diff "$work/bare.trn" "$work/silo.trn" || true
fi

echo "throughput ($ROUNDS requests per level, silo --workers 4, $(nproc) CPUs):"
for concurrency in 1 2 4; do
    seq 0 $((ROUNDS - 1)) | awk -v n=${#clips[@]} '{print $1 % n}' >"$work/order"
    seconds=0
    while read -r i; do
        seconds=$(awk -v s="$seconds" -v d="$(ffprobe -v error -show_entries format=duration -of csv=p=0 \
            "${clips[$i]}")" 'BEGIN {printf "%.3f", s + d}')
    done <"$work/order"
    started=$(date +%s.%N)
    export -f post
    export SILO_API token
    while read -r i; do echo "${clips[$i]}"; done <"$work/order" |
        xargs -P "$concurrency" -I{} bash -c 'post "$1" >/dev/null' _ {}
    wall=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}')
    awk -v c="$concurrency" -v a="$seconds" -v w="$wall" -v n="$ROUNDS" \
        'BEGIN {printf "  %d at once: %.1f s of audio in %.2f s = %.2fx real time, %.1f requests/min\n", c, a, w, a / w, n * 60 / w}'
done
silo_stop

awk -v s="$silo_wer" -v b="$bare_wer" 'BEGIN {d = s - b; if (d < 0) d = -d; exit !(d <= 2)}' || {
    echo "FAIL: silo's WER is more than 2 points from the bare engine's"
    exit 1
}
echo "OK: silo's WER is within 2 points of the bare engine's"
