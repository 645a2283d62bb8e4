#!/bin/sh
# Runs `gateway "$@"` as PID 1 (exec, so SIGTERM reaches uvicorn directly).
set -eu

# prometheus-client adds up every *.db file in PROMETHEUS_MULTIPROC_DIR. A restarted container keeps its
# volume (a Kubernetes emptyDir survives container restarts), and the new workers often get the same pids,
# so files of the previous run would be counted again: start from an empty directory.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -maxdepth 1 -name '*.db' -delete
fi

exec gateway "$@"
