#!/usr/bin/env bash
# Seed 004's videos under load:
#   1. POST /api/auth/video/download of a SIZE_MIB video served from
#      loopback: wall time, throughput, and silo's resident memory before
#      and at its peak (VmHWM), against the ceiling of `curl -o /dev/null`
#      from the same host. The video is a real 10 s H.264 MP4 made with
#      ffmpeg and padded to size with a trailing MP4 'free' box, so it
#      sniffs and probes as MP4 and the whole file is streamed and stored.
#      It is served by python's http.server on 127.0.0.1 (allowlisted).
#   2. GET /api/auth/video/gallery for a user with ROWS videos, whole
#      (every row, three presigned URLs each) and a 50-row page, under wrk.
#
# The ROWS gallery rows are not imported through the API (that is what
# step 1 measures, once): this script writes them with Python's sqlite3
# straight into the instance's silo.db, in the videos table's own shape,
# while the server runs (SQLite WAL lets a second process write; silo
# caches no rows). 10,000 rows for 100 other users are added beside them.
# Their s3_key and poster_key name objects that do not exist, which the
# gallery never reads (it presigns URLs without I/O).
#
# usage: bench/videos.sh [SECONDS] [ROWS] [SIZE_MIB]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
seconds=${1:-5}
rows=${2:-10000}
size_mib=${3:-1024}

work=$(mktemp -d /tmp/silo-bench-videos-XXXXXX)
host_pid=
cleanup() {
    [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== making a ${size_mib} MiB MP4 with ffmpeg"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=duration=10:size=640x360:rate=25 \
    -f lavfi -i sine=duration=10 -c:v libx264 -pix_fmt yuv420p -c:a aac -movflags +faststart "$work/small.mp4"
/usr/bin/python3 - "$work/small.mp4" "$work/big.mp4" "$size_mib" <<'PY'
import sys
small, out, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(small, "rb").read()
pad = mib * 1048576 - len(data)
with open(out, "wb") as f:
    f.write(data)
    f.write(pad.to_bytes(4, "big") + b"free")
    f.truncate(mib * 1048576)  # the rest of the box: zeros, without writing them
PY
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$work" && exec /usr/bin/python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
host_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/small.mp4" && break; sleep 0.1; done
url="http://127.0.0.1:$port/big.mp4"
ceiling=$(curl -s -o /dev/null -w '%{speed_download}' "$url")
echo "host ceiling (curl -o /dev/null): $(awk -v b="$ceiling" 'BEGIN {printf "%.0f", b / 1048576}') MiB/s"

silo_start --threads 4 --outbound-allow 127.0.0.1/32 --video-max-size "$((size_mib + 1))M"
silo_pid=$(pgrep -P "$SILO_PID")
token=$("$SILO" token --sub heavy --email heavy@example.com --data "$SILO_DIR/data")
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$silo_pid/status"; }
echo "== POST /api/auth/video/download of ${size_mib} MiB from 127.0.0.1"
for run in 1 2; do
    before=$(rss VmRSS)
    start=$(date +%s.%N)
    answer=$(curl -sf -X POST "$SILO_API/api/auth/video/download" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' \
        -d "{\"videoUrl\": \"$url?run=$run\", \"userEmail\": \"heavy@example.com\"}")
    end=$(date +%s.%N)
    size=$(echo "$answer" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["size"])')
    [ "$size" = "$((size_mib * 1048576))" ] || { echo "import stored $size bytes"; exit 1; }
    awk -v n="$run" -v s="$start" -v e="$end" -v m="$size_mib" -v b="$before" -v h="$(rss VmHWM)" -v r="$(rss VmRSS)" \
        'BEGIN {printf "run %d: %.2f s = %.0f MiB/s; RSS before %.1f MiB, after %.1f MiB, peak so far %.1f MiB\n",
                n, e - s, m / (e - s), b / 1024, r / 1024, h / 1024}'
    id=$(echo "$answer" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["videoId"])')
    curl -sf -X DELETE "$SILO_API/api/auth/video/delete" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d "{\"videoId\": \"$id\"}" >/dev/null
done
kill "$host_pid"
host_pid=
rm -f "$work/big.mp4"

echo "== indexing $rows videos for user 'heavy' (+ $rows for 100 others) with python sqlite3"
/usr/bin/python3 - "$SILO_DIR/data/silo.db" "$rows" <<'PY'
import json, secrets, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
rows = int(sys.argv[2])
now = int(time.time() * 1000)
def gen(user, n):
    for i in range(n):
        created = now - (n - i) * 60_000
        vid = f"video_{created}_{secrets.token_hex(5)[:9]}"
        status = "ready" if i % 10 else ("processing" if i % 20 else "failed")
        folder = f"videos/{user}/{vid}/"
        yield (vid, user, f"Bench video {i}", status, folder + f"{created}_clip.mp4", folder + "poster.jpg",
               "video/mp4", 10485760, json.dumps({"duration": 120.5, "size": 10485760, "format": "mp4",
                                                  "width": 1280, "height": 720, "videoCodec": "h264"}),
               secrets.token_hex(24), f"https://videos.example.com/{vid}.mp4", None, "download",
               None if status != "failed" else "bench", 10485760, 10485760, created, created)
start = time.time()
with db:
    sql = ("INSERT INTO videos (video_id, user_id, title, status, s3_key, poster_key, content_type, size, metadata,"
           " secret_key, source_url, source_hash, origin, error, bytes_received, bytes_total, created_ms, updated_ms)"
           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
    db.executemany(sql, gen("heavy", rows))
    for u in range(100):
        db.executemany(sql, gen(f"user{u}", rows // 100))
print(f"inserted in {time.time() - start:.1f} s")
PY
gallery="$SILO_API/api/auth/video/gallery"
total=$(curl -sf -H "Authorization: Bearer $token" "$gallery" | /usr/bin/python3 -c \
    'import json, sys; d = json.load(sys.stdin)["data"]; print(d["totalCount"], len(d["videos"]), d["readyCount"])')
echo "gallery of heavy: totalCount, listed, ready = $total"
bytes=$(curl -sf -H "Authorization: Bearer $token" "$gallery" | wc -c)
echo "whole gallery: $bytes bytes"
one=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "$gallery")
echo "one whole-gallery request: $(awk -v t="$one" 'BEGIN {printf "%.1f", t * 1000}') ms"
echo "== GET /api/auth/video/gallery ($rows videos), ${seconds}s each"
bash "$BENCH_ROOT/bench/wrk.sh" "$gallery" "$seconds" 2 2 -- -H "Authorization: Bearer $token"
bash "$BENCH_ROOT/bench/wrk.sh" "$gallery?limit=50" "$seconds" 4 2 -- -H "Authorization: Bearer $token"
silo_stop
