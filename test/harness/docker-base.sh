#!/usr/bin/env bash
# Builds a local stand-in for node:24-slim where Docker Hub cannot be reached: a minimal Debian
# bookworm (debootstrap, from the mirror in this machine's apt sources), the workspace's own
# Node 24 binary, this machine's npm, and its CA bundle (NODE_EXTRA_CA_CERTS, so npm inside a
# build trusts what the host trusts). Run as root with DOCKER_HOST set; tags the result $1.
# Idempotent: does nothing when the tag exists. Nothing it fetches stays outside the engine.
set -euo pipefail
tag=${1:?usage: docker-base.sh TAG}
root=$(cd "$(dirname "$0")/../.." && pwd)
if docker image inspect "$tag" >/dev/null 2>&1; then exit 0; fi

node_bin=$(ls "$root"/node_modules/.pnpm/node@24.*/node_modules/node/bin/node 2>/dev/null | head -n1)
[ -x "$node_bin" ] || { echo "docker-base: no Node 24 binary under node_modules/.pnpm (run pnpm install)" >&2; exit 1; }
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[ -f "$npm_dir/package.json" ] || { echo "docker-base: cannot find npm's package directory" >&2; exit 1; }
ca=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca" ] || { echo "docker-base: no CA bundle at $ca" >&2; exit 1; }

# The Debian mirror this machine's apt uses (deb822 or one-line sources).
mirror=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 ~ /debian/ && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

work=$(mktemp -d /var/tmp/ehr-docker-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "docker-base: debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
tar -C "$work/rootfs" -c . | docker import - "$tag-rootfs" >/dev/null
rm -rf "$work/rootfs"

mkdir -p "$work/ctx"
cp "$node_bin" "$work/ctx/node"
cp -a "$npm_dir" "$work/ctx/npm"
cp "$ca" "$work/ctx/ca-certificates.crt"
cat >"$work/ctx/Dockerfile" <<DOCKERFILE
FROM $tag-rootfs
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q --network host -t "$tag" "$work/ctx" >/dev/null
docker rmi "$tag-rootfs" >/dev/null 2>&1 || true
echo "docker-base: built $tag" >&2
