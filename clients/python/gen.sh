#!/bin/sh
# Generates the Python protobuf modules for every .proto under proto/ into
# trellis_client/_gen/ (gitignored). Run it before importing trellis_client;
# the Makefile runs it before the tests. Requires protoc 3.21.x.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$here/trellis_client/_gen"

rm -rf "$out"
mkdir -p "$out"
cd "$root/proto"
find . -name '*.proto' | sort | xargs protoc -I . --python_out="$out"
echo "gen.sh: generated $(find "$out" -name '*_pb2.py' | wc -l) modules into $out" >&2
