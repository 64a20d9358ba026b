#!/usr/bin/env bash
# Builds docker/Dockerfile for real and runs the image against the test run's
# PostgreSQL and Kafka: events arrive, the health check turns healthy and
# /readyz ready, it runs as a non-root PID 1 on a read-only root filesystem,
# and SIGTERM stops it cleanly with a final checkpoint that the replication
# slot confirms. Prints the image's size.
#
# No Docker engine and no image registry here: Debian's podman (with runc;
# a private containers.conf without default ulimits; cgroupfs) builds from a
# base made locally with mmdebstrap (minbase, the same package set as
# debian:<suite>-slim) and imported as localhost/sluice-base:<suite>.
#
# Usage: tests/container/run.sh   (scripts/test.sh runs it as its stage
#        "container", after starting the services; needs root for podman)
# Environment: the SLUICE_TEST_* variables of tests/lib/services.sh;
#   SLUICE_CACHE (default ~/.cache/sluice): the base tarball is cached in
#     $SLUICE_CACHE/container/ and rebuilt when older than 30 days;
#   SLUICE_CONTAINER_SUITE (default bookworm): the Debian suite of the base;
#   SLUICE_CONTAINER_KEEP=1: keep the image and the volume afterwards.
# podman keeps its layer cache in /var/lib/containers: a second run rebuilds
# only what changed (a source edit: the compile; nothing: seconds).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
suite=${SLUICE_CONTAINER_SUITE:-bookworm}
cache=${SLUICE_CACHE:-$HOME/.cache/sluice}/container
max_size=$((40 * 1000 * 1000)) # bytes, uncompressed
tag=localhost/sluice:test-$suite
base=localhost/sluice-base:$suite
name=sluice-ct-$$
volume=sluice-ct-state-$$
slot=sluice_ct_$$

say() { printf 'container: %s\n' "$*"; }
die() { printf 'container: FAILED: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)
elapsed() { echo "$(($(date +%s) - started)) s"; }

for v in SLUICE_TEST_PG_HOST SLUICE_TEST_PG_PORT SLUICE_TEST_PG_USER SLUICE_TEST_PG_PASSWORD \
         SLUICE_TEST_PG_DB SLUICE_TEST_KAFKA; do
    [[ -n ${!v:-} ]] || die "$v is not set: run under scripts/test.sh (or source tests/lib/services.sh)"
done
for c in podman mmdebstrap runc kcat psql python3; do
    command -v "$c" >/dev/null || die "$c is missing: scripts/install-deps.sh installs it"
done
((EUID == 0)) || die "podman runs rootful here: run as root"

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-ct.XXXXXX")
# crun refuses this kind of machine's cgroups, and the default ulimits ask
# for more open files than a nested container may set.
cat >"$work/containers.conf" <<'CONF'
[containers]
default_ulimits = []
CONF
export CONTAINERS_CONF=$work/containers.conf
podman=(podman --runtime runc --cgroup-manager cgroupfs)

cleanup() {
    "${podman[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true
    if [[ ${SLUICE_CONTAINER_KEEP:-0} != 1 ]]; then
        "${podman[@]}" volume rm -f "$volume" >/dev/null 2>&1 || true
    fi
    PGCONNECT_TIMEOUT=5 psql -qAt -c "SELECT pg_drop_replication_slot('$slot') FROM pg_replication_slots WHERE slot_name = '$slot' AND NOT active" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- the base image -----------------------------------------------------------

mkdir -p "$cache"
base_tar=$cache/$suite-minbase.tar
if [[ ! -s $base_tar ]] || [[ -n $(find "$base_tar" -mtime +30 2>/dev/null) ]]; then
    say "making the $suite base with mmdebstrap (cached in $base_tar)"
    # The same sources as Debian's official images: the suite, its updates
    # and its security archive.
    mmdebstrap --variant=minbase --format=tar --quiet "$suite" "$base_tar.part" \
        "deb http://deb.debian.org/debian $suite main" \
        "deb http://deb.debian.org/debian $suite-updates main" \
        "deb http://deb.debian.org/debian-security $suite-security main"
    mv "$base_tar.part" "$base_tar"
    "${podman[@]}" rmi -f "$base" >/dev/null 2>&1 || true
fi
if ! "${podman[@]}" image exists "$base"; then
    say "importing the base as $base"
    "${podman[@]}" import -q "$base_tar" "$base" >/dev/null
fi

# --- build ----------------------------------------------------------------------

say "building $tag ($(elapsed))"
old_id=$("${podman[@]}" image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
if ! "${podman[@]}" build --network host --format docker --layers -q \
        --build-arg BASE="$base" -f "$repo/docker/Dockerfile" -t "$tag" "$repo" \
        >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    die "podman build failed"
fi
# The previous build of this tag, if replaced, would only take up space.
new_id=$("${podman[@]}" image inspect -f '{{.Id}}' "$tag")
if [[ -n $old_id && $old_id != "$new_id" ]]; then
    "${podman[@]}" rmi "$old_id" >/dev/null 2>&1 || true
fi
size=$("${podman[@]}" image inspect -f '{{.Size}}' "$tag")
say "image $tag: $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') MB) uncompressed ($(elapsed))"
((size <= max_size)) || die "the image is $size bytes, more than the $max_size allowed"
user=$("${podman[@]}" image inspect -f '{{.Config.User}}' "$tag")
[[ $user == 10001:10001 ]] || die "the image's user is \"$user\", not 10001:10001"
"${podman[@]}" image inspect -f '{{json .Config.Healthcheck}}' "$tag" | grep -q 'sluice' ||
    die "the image has no HEALTHCHECK (was it built with --format docker?)"

# --- run against the test servers ---------------------------------------------------------

export PGHOST=$SLUICE_TEST_PG_HOST PGPORT=$SLUICE_TEST_PG_PORT PGUSER=$SLUICE_TEST_PG_USER
export PGPASSWORD=$SLUICE_TEST_PG_PASSWORD PGDATABASE=$SLUICE_TEST_PG_DB
export PGOPTIONS='-c client_min_messages=warning'
psql -qX -v ON_ERROR_STOP=1 -c "DROP TABLE IF EXISTS ct_orders; CREATE TABLE ct_orders (id int PRIMARY KEY, item text)" >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
topic=ct_$$.public.ct_orders
mkdir -p "$work/connectors"
cat >"$work/connectors/orders.json" <<JSON
{
  "name": "orders",
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "database.hostname": "$SLUICE_TEST_PG_HOST",
  "database.port": "$SLUICE_TEST_PG_PORT",
  "database.user": "$SLUICE_TEST_PG_USER",
  "database.password": "\${PG_PASSWORD}",
  "database.dbname": "$SLUICE_TEST_PG_DB",
  "topic.prefix": "ct_$$",
  "slot.name": "$slot",
  "publication.name": "$slot",
  "publication.autocreate.mode": "filtered",
  "table.include.list": "public.ct_orders",
  "snapshot.mode": "no_data",
  "kafka.bootstrap.servers": "$SLUICE_TEST_KAFKA"
}
JSON
chmod -R a+rX "$work"

say "running it as $name, HTTP on 127.0.0.1:$port ($(elapsed))"
# The host's network reaches the test servers on loopback; the state lives in
# a named volume, which takes the image's ownership of /var/lib/sluice.
"${podman[@]}" run -d --name "$name" --network host --read-only \
    -v "$work/connectors:/etc/sluice/connectors:ro" -v "$volume:/var/lib/sluice" \
    -e SLUICE_HTTP_LISTEN="127.0.0.1:$port" -e PG_PASSWORD="$SLUICE_TEST_PG_PASSWORD" \
    "$tag" >/dev/null 2>"$work/run.err" || { cat "$work/run.err" >&2; die "podman run failed"; }
logs() { "${podman[@]}" logs "$name" 2>&1 | tail -n 40 >&2; }
# http_get PATH status|body: the listener's answer (no curl needed).
http_get() {
    python3 - "http://127.0.0.1:$port$1" "$2" <<'PY'
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        status, body = r.status, r.read().decode()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read().decode()
except OSError:
    status, body = 0, ""
print(status if sys.argv[2] == "status" else body, end="")
PY
}

healthy=0
for _ in $(seq 1 120); do
    if "${podman[@]}" healthcheck run "$name" >/dev/null 2>&1; then
        healthy=1
        break
    fi
    sleep 0.5
done
((healthy)) || { logs; die "the HEALTHCHECK never passed"; }
ready=0
for _ in $(seq 1 120); do
    code=$(http_get "/readyz" status)
    [[ $code == 200 ]] && { ready=1; break; }
    sleep 0.5
done
((ready)) || { logs; die "/readyz never answered 200 (last: $code)"; }
say "healthy and ready ($(elapsed))"

pid=$("${podman[@]}" inspect -f '{{.State.Pid}}' "$name")
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
[[ $uid == 10001 ]] || die "sluice runs as uid $uid, not 10001"
nspid=$(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status")
[[ $nspid == 1 ]] || die "sluice is PID $nspid in its container, not 1"
rootopts=$(awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | head -n 1)
[[ $rootopts == ro* ]] || die "the root filesystem is mounted \"$rootopts\", not read-only"
say "runs as uid 10001, PID 1, read-only root"

psql -qX -v ON_ERROR_STOP=1 -c "INSERT INTO ct_orders SELECT g, 'item ' || g FROM generate_series(1, 50) g; UPDATE ct_orders SET item = 'changed' WHERE id <= 10" >/dev/null
got=0
for _ in $(seq 1 60); do
    got=$(kcat -b "$SLUICE_TEST_KAFKA" -C -t "$topic" -o beginning -e -q 2>/dev/null | wc -l || true)
    ((got >= 60)) && break
    sleep 0.5
done
((got == 60)) || { logs; die "$got events in $topic, expected 60"; }
metric=$(http_get /metrics body | awk '/^sluice_events_total\{connector="orders",table="public.ct_orders",op="c"\}/ { print $2 }')
say "60 events in Kafka; /metrics counts $metric creates ($(elapsed))"

# Without systemd podman cannot schedule health checks itself, and says so on
# every start and stop; this test runs them with `podman healthcheck run`.
"${podman[@]}" stop -t 40 "$name" >/dev/null 2>>"$work/run.err"
code=$("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$name")
"${podman[@]}" logs "$name" >"$work/sluice.log" 2>&1
[[ $code == 0 ]] || { tail -n 40 "$work/sluice.log" >&2; die "exit status $code after SIGTERM"; }
grep -q 'received SIGTERM' "$work/sluice.log" || die "sluice never saw SIGTERM"
grep -q 'writing the final checkpoint' "$work/sluice.log" || die "no final checkpoint"
mount=$("${podman[@]}" volume inspect -f '{{.Mountpoint}}' "$volume")
# The position is the LSN, alone or with the slot's identity around it.
offsets=$(python3 -c 'import json, sys; p = json.load(open(sys.argv[1]))["position"]; print(p["lsn"] if isinstance(p, dict) else p)' "$mount/orders.offsets.json")
confirmed=$(psql -qAtX -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'")
[[ -n $offsets && $offsets == "$confirmed" ]] ||
    die "offsets file holds \"$offsets\" but the slot confirmed \"$confirmed\""
say "SIGTERM: exit 0, final checkpoint $offsets in the volume, confirmed by the slot ($(elapsed))"

if [[ ${SLUICE_CONTAINER_KEEP:-0} != 1 ]]; then
    "${podman[@]}" rm -f "$name" >/dev/null 2>>"$work/run.err"
fi
say "passed in $(elapsed)"
