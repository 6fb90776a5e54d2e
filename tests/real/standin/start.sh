#!/bin/sh
# What WSO2's images do at start (cp -RL of the config volume into the product home),
# then the checks; ready (the marker file) only if they pass. Stops at once on SIGTERM.
set -eu
CONFIG=/home/wso2carbon/wso2-config-volume
PRODUCT=${PRODUCT_HOME:-/home/wso2carbon/product}
mkdir -p "$PRODUCT"
if [ -d "$CONFIG" ]; then
    cp -RL "$CONFIG"/. "$PRODUCT"/
fi
if python3 /usr/local/bin/check.py "$PRODUCT"; then
    touch "$PRODUCT/.standin-ready"
    echo "standin: ready"
else
    echo "standin: NOT ready: the checks above failed"
fi
trap 'exit 0' TERM INT
sleep infinity &
wait
