#!/usr/bin/env bash
# Builds the gRPC C++ bench peer into bench/grpc/build, installing Debian's gRPC and
# protobuf development packages first if they are missing.
set -euo pipefail
cd "$(dirname "$0")"

if ! pkg-config --exists grpc++ protobuf || ! command -v grpc_cpp_plugin >/dev/null \
    || ! command -v protoc >/dev/null; then
    echo "bench/grpc: installing gRPC C++ and protobuf packages" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench/grpc: need root for apt-get; install libgrpc++-dev" \
            "protobuf-compiler-grpc libprotobuf-dev protobuf-compiler" >&2
        exit 1
    fi
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler >&2
fi

mkdir -p build
exec make -s -j"$(nproc)" all >&2
