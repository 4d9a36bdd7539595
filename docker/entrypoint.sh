#!/bin/sh
# The container's entry point: on the first start, put the container config into the volume (where
# API changes are written back), then run `whatshooked ARGS` (default: serve).
set -eu
config="${WHATSHOOKED_CONFIG:-/data/config.yaml}"
if [ ! -e "$config" ]; then
    mkdir -p "$(dirname "$config")"
    cp /opt/whatshooked/config.yaml "$config"
    chmod 0600 "$config"
    echo "wrote the container config to $config (edit it in the volume; the API key is \$WHATSHOOKED_API_KEY)"
fi
exec whatshooked "$@"
