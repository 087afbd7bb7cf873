#!/usr/bin/env bash
# Regenerates PulsarApi.pb.swift from PulsarApi.proto. Needs protoc (apt: protobuf-compiler;
# 3.21.12 was used) and protoc-gen-swift from swift-protobuf 1.39.0:
#   git clone <swift-protobuf> && cd swift-protobuf && git checkout 1.39.0 &&
#   swift build -c release --product protoc-gen-swift
# then run: PROTOC_GEN_SWIFT=/path/to/.build/release/protoc-gen-swift ./generate.sh
set -euo pipefail
cd "$(dirname "$0")"
protoc --plugin=protoc-gen-swift="${PROTOC_GEN_SWIFT:?set PROTOC_GEN_SWIFT}" \
  --swift_out=. --swift_opt=Visibility=Public --swift_opt=UseAccessLevelOnImports=true \
  PulsarApi.proto
# The generated types are public so PulsarWire and the broker can use them; the codec
# (framing, checksums, size limits) lives in PulsarWire, not in this generated module.
