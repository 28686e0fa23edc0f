#!/bin/sh
# A base image for the Dockerfile on a machine that reaches Debian's package archive but no
# container registry: Debian bookworm (Python 3.11) built by debootstrap, imported into
# podman as localhost/debian-python:bookworm. Then:
#
#   podman build --format docker --isolation chroot --network host \
#       --secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt \
#       --build-arg BASE=localhost/debian-python:bookworm -t localhost/keyguard:dev .
#
# Needs root, debootstrap and podman (apt-get install podman buildah debootstrap). The mirror
# is the first one apt is configured with, unless MIRROR is given.
set -eu
tag=${TAG:-localhost/debian-python:bookworm}
mirror=${MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)}
if [ -z "$mirror" ]; then
    mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root/rootfs" "$mirror"
rm -rf "$root"/rootfs/var/cache/apt/archives/*.deb "$root"/rootfs/var/lib/apt/lists/*
tar -C "$root/rootfs" -c . | podman import - "$tag"
echo "$tag"
