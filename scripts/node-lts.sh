#!/usr/bin/env bash
# The pinned Node.js LTS (version in .node-version) from the npm registry's official binary packages
# (node-linux-<arch>), installed once into a local prefix; no nodejs.org download needed.
#   eval "$(scripts/node-lts.sh --env)"   # this shell: the pinned node first on PATH, its headers for node-gyp
#   scripts/node-lts.sh                   # install if needed, print the bin directory
#   scripts/node-lts.sh --link /opt/vm2ec2-node/current   # also a stable path to it (the systemd unit runs current/bin/node)
# Prefix: $VM2EC2_NODE_HOME (default ~/.cache/vm2ec2-node), one folder per version.
# Needs npm (any recent one) to fetch the package; npm then runs on the pinned node.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${VM2EC2_NODE_VERSION:-$(tr -d '[:space:]' < "$root/.node-version")}"   # the override is for trying another release
version="${version#v}"
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-lts.sh: no npm package of Node.js for $(uname -m); install Node.js $version yourself" >&2; exit 1 ;;
esac
pkg="node-linux-$arch"
prefix="${VM2EC2_NODE_HOME:-$HOME/.cache/vm2ec2-node}/$version"
home="$prefix/lib/node_modules/$pkg"

if [ "$("$prefix/bin/node" --version 2>/dev/null || true)" != "v$version" ]; then
  command -v npm >/dev/null 2>&1 || { echo "node-lts.sh: npm is needed to fetch Node.js $version (Debian: apt-get install npm)" >&2; exit 1; }
  echo "Installing Node.js $version ($pkg from the npm registry) into $prefix" >&2
  rm -rf "$prefix"
  # Outside the checkout, so the project's .npmrc (engine-strict) does not apply to this install.
  (cd / && npm install --global --prefix "$prefix" --ignore-scripts --no-audit --no-fund --loglevel=error "$pkg@$version" >&2)
  [ "$("$prefix/bin/node" --version)" = "v$version" ] || { echo "node-lts.sh: $prefix/bin/node is not v$version" >&2; exit 1; }
fi

if [ "${1:-}" = "--link" ]; then
  [ -n "${2:-}" ] || { echo "node-lts.sh: --link needs a path, e.g. --link /opt/vm2ec2-node/current" >&2; exit 1; }
  ln -sfn "$prefix" "$2"
  echo "$2 -> $prefix (Node.js $version)" >&2
  echo "$2/bin"
elif [ "${1:-}" = "--env" ]; then
  # npm_config_nodedir: node-gyp builds any native module against the package's own headers (include/node),
  # never downloading them.
  printf 'export PATH=%q:"$PATH"\nexport npm_config_nodedir=%q\n' "$prefix/bin" "$home"
else
  echo "$prefix/bin"
fi
