#!/usr/bin/env bash
# Debian packages the test suite drives as real peers: kubectl from Debian's
# kubernetes-client package. When the machine has no kubectl it is installed;
# when another package already owns /usr/bin/kubectl (e.g. Google Cloud SDK's),
# Debian's is unpacked into .cache/debian-kubectl instead and tests run both.
# Needs root or sudo for apt-get; without them the kubectl tests are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
dpkg -s kubernetes-client >/dev/null 2>&1 && exit 0
[ -x .cache/debian-kubectl/usr/bin/kubectl ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "system-deps: cannot install kubernetes-client (not root, no sudo); kubectl tests may be skipped" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
if ! command -v kubectl >/dev/null 2>&1; then
  $sudo apt-get install -y -qq kubernetes-client >/dev/null
  exit 0
fi
tmp=$(mktemp -d)
chmod 777 "$tmp"  # apt downloads as the unprivileged _apt user
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq kubernetes-client >/dev/null)
mkdir -p .cache/debian-kubectl
dpkg -x "$tmp"/kubernetes-client_*.deb .cache/debian-kubectl
echo "system-deps: unpacked Debian's kubectl into .cache/debian-kubectl ($(command -v kubectl) is another package's)"
