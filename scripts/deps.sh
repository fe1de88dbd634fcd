#!/bin/sh
# Installs the Debian packages (and npm tools) a purpose needs: build, test
# or bench. Idempotent: when everything is present it calls no package tool.
set -eu
purpose=${1:-build}

build_pkgs="gcc make pkg-config clang libmicrohttpd-dev libcurl4-openssl-dev libssl-dev
libjansson-dev libsqlite3-dev libpq-dev libavformat-dev libavcodec-dev libswresample-dev
libswscale-dev libavutil-dev libpocketsphinx-dev pocketsphinx-en-us libmagic-dev libexpat1-dev
zlib1g-dev libsystemd-dev dpkg-dev binutils"
test_pkgs="$build_pkgs libcmocka-dev python3 python3-pytest python3-boto3 python3-requests
awscli s3cmd rclone curl ffmpeg postgresql chromium pocketsphinx-testdata
git lintian systemd man-db python3-seccomp"
bench_pkgs="$test_pkgs wrk time sctk"

case "$purpose" in
build) pkgs=$build_pkgs ;;
test) pkgs=$test_pkgs ;;
bench) pkgs=$bench_pkgs ;;
*) echo "usage: deps.sh build|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

if [ "$purpose" != build ] && [ -f tests/package.json ]; then
    if [ ! -d tests/node_modules ] || [ tests/package.json -nt tests/node_modules ]; then
        echo "deps: installing npm test tools"
        (cd tests && npm install --no-audit --no-fund --loglevel=error >/dev/null)
        touch tests/node_modules
    fi
fi
