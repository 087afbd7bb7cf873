#!/usr/bin/env bash
# Regenerates etcd.pb.swift from etcd.proto. Needs protoc (apt: protobuf-compiler) and
# protoc-gen-swift from swift-protobuf 1.39.0:
#   git clone <swift-protobuf> && cd swift-protobuf && git checkout 1.39.0 &&
#   swift build -c release --product protoc-gen-swift
# then run: PROTOC_GEN_SWIFT=/path/to/.build/release/protoc-gen-swift ./generate.sh
set -euo pipefail
cd "$(dirname "$0")"
protoc --plugin=protoc-gen-swift="${PROTOC_GEN_SWIFT:?set PROTOC_GEN_SWIFT}" \
  --swift_out=. --swift_opt=Visibility=Public --swift_opt=UseAccessLevelOnImports=true \
  etcd.proto
# The generated types are public so the Metadata target can use them; only Metadata imports this module.
