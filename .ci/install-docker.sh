#!/usr/bin/env bash
# Installs what test/compose.test.ts needs to run the five-node cluster under a real Docker
# engine: Debian's docker.io (dockerd, containerd, runc), debootstrap (the local node:24-slim
# stand-in) and docker-compose. Only as root and only what is missing; quiet; never fails CI
# (without these packages the compose test is skipped and says why).
set -uo pipefail
[ "$(id -u)" = 0 ] || exit 0
command -v apt-get >/dev/null || exit 0
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v docker-compose >/dev/null || missing+=(docker-compose)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "ci: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
opts=(-qq -o DPkg::Lock::Timeout=600)
if ! apt-get "${opts[@]}" install -y "${missing[@]}" >/tmp/ci-install-docker.log 2>&1; then
  apt-get "${opts[@]}" update >>/tmp/ci-install-docker.log 2>&1
  apt-get "${opts[@]}" install -y "${missing[@]}" >>/tmp/ci-install-docker.log 2>&1 \
    || echo "ci: could not install ${missing[*]} (see /tmp/ci-install-docker.log); the compose test will be skipped" >&2
fi
exit 0
