#!/bin/sh
# `make run`: starts silo on the embedded defaults and prints how to use it.
set -eu
cd "$(dirname "$0")/.."
data=${SILO_DATA:-./silo-data}
./build/silo s3-credentials --data "$data" >/dev/null # first run: create the data directory
token=$(./build/silo token --sub dev --email dev@example.com --role admin --data "$data")
echo "== silo: dev token (admin, 24 h) for the API:"
echo "export SILO_TOKEN=$token"
echo "== built-in S3 endpoint credentials:"
./build/silo s3-credentials --data "$data" | sed 's/^/export /'
echo "== the web console: open the 'login:' link silo prints below in a browser"
echo "   (it signs you in as the admin 'dev', works once, for 15 minutes;"
echo "   more links: ./build/silo login-link --sub USER [--role admin] --data $data)"
echo "== starting silo serve (Ctrl-C stops it)"
exec ./build/silo serve --data "$data"
