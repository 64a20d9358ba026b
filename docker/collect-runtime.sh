#!/bin/sh
# collect-runtime.sh ROOT BINARY...
#
# Fills ROOT with what BINARY needs to run in an empty (scratch) image: every
# shared library ldd finds for it and the dynamic loader, at the paths this
# system has them (with its /lib and /lib64 links, so the loader's built-in
# path works), a loader cache, CA certificates, /etc/passwd and /etc/group
# with the user sluice (10001), and empty /etc/sluice/connectors and /tmp.
# /rootfs-state becomes /var/lib/sluice, owned by sluice.
# Runs in the build stage of docker/Dockerfile.
set -eu
root=$1
shift

for bin in "$@"; do
    ldd "$bin"
done | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
while read -r lib; do
    dir=$(readlink -f "$(dirname "$lib")")
    mkdir -p "$root$dir"
    cp -L "$lib" "$root$dir/$(basename "$lib")"
done
for link in /lib /lib64 /lib32 /libx32; do
    if [ -L "$link" ] && [ -e "$root$(readlink -f "$link")" ]; then
        ln -s "$(readlink "$link")" "$root$link"
    fi
done

mkdir -p "$root/etc/ssl/certs" "$root/usr/lib/ssl" "$root/etc/sluice/connectors" "$root/tmp"
chmod 1777 "$root/tmp"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
ln -s /etc/ssl/certs "$root/usr/lib/ssl/certs"
ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nsluice:x:10001:10001:sluice:/var/lib/sluice:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nsluice:x:10001:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
cp /etc/ld.so.conf "$root/etc/"
cp -r /etc/ld.so.conf.d "$root/etc/"
ldconfig -r "$root"
mkdir -p /rootfs-state
chmod 0750 /rootfs-state
