#!/bin/sh
# The system tools the benchmark compares against, installed only when missing.
# 7-Zip: Debian's package "7zip" gives the 7zz command. tar and xz come with the system.
if command -v 7zz >/dev/null 2>&1; then
    echo "bench setup: 7zz found at $(command -v 7zz)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "bench setup: 7zz is missing and this is not root; install Debian's 7zip package (apt-get install -y 7zip)" >&2
        exit 0
    fi
fi
echo "bench setup: 7zz is missing; running: ${SUDO:+$SUDO }apt-get install -y 7zip"
$SUDO apt-get install -y 7zip || { echo "bench setup: retrying after apt-get update"; $SUDO apt-get update && $SUDO apt-get install -y 7zip; } \
    || echo "bench setup: could not install 7zip; the 7-Zip rows will be skipped" >&2
exit 0
