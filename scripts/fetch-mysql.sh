#!/usr/bin/env bash
# Fetches Oracle MySQL (Debian sid's mysql-server-core and mysql-client-core)
# into a cache directory, unpacked, not installed, for the tests and the
# benchmark. Debian 12 has no MySQL server; sid's runs on Debian 12 with sid's
# own C and C++ libraries, started through sid's dynamic loader
# (tests/lib/services.sh, svc_mysql_start).
#
# What it does, once (later calls only check the marker, no network):
#   1. a private apt state (its own sources.list, lists and archives under
#      the cache) pointing at this system's Debian mirror with suite sid,
#      signed by the system's debian-archive-keyring, and apt-get update;
#   2. resolves the packages: the two MySQL packages and, transitively, the
#      first alternative of each Depends/Pre-Depends that is a library
#      (lib*, zlib1g). Names are resolved every time because sid moves
#      (sonames change);
#   3. apt-get download + dpkg-deb -x of each into ROOT;
#   4. mysqld --initialize-insecure into a data directory template, which
#      each test run copies (initializing takes 3-10 s, a copy well under 1 s).
#
# Layout: $SLUICE_CACHE/mysql-sid/{apt,debs,root,template,.complete}.
# The marker .complete holds the MySQL version and the package list.
#
# Usage: scripts/fetch-mysql.sh [--print-root]
# Environment:
#   SLUICE_CACHE           cache root (default: $HOME/.cache/sluice)
#   SLUICE_MYSQL_REFRESH=1 fetch again even when the cache is complete
#   SLUICE_DEBIAN_MIRROR   Debian mirror URI (default: the first Debian URI in
#                          /etc/apt/sources.list{,.d/*})
# Exit status: 0 when ROOT is ready, 1 otherwise (with the reason on stderr).
set -euo pipefail

die() { printf 'fetch-mysql: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'fetch-mysql: %s\n' "$*" >&2; }

cache=${SLUICE_CACHE:-$HOME/.cache/sluice}/mysql-sid
marker=$cache/.complete
print_root=0
[[ ${1:-} == --print-root ]] && print_root=1

done_() {
    ((print_root)) && printf '%s\n' "$cache/root"
    exit 0
}

if [[ ${SLUICE_MYSQL_REFRESH:-0} != 1 && -f $marker && -x $cache/root/usr/sbin/mysqld &&
      -d $cache/template/mysql ]]; then
    done_
fi

# shellcheck source=lib/debian-unpack.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-unpack.sh"
deb_check_tools apt-get apt-cache dpkg-deb python3
deb_mirrors

t0=$(date +%s)
mkdir -p "$cache"
apt_dir=$cache/apt
log=$cache/fetch.log
deb_apt_setup "$apt_dir" sid "$log"
apt-cache show --no-all-versions mysql-server-core >/dev/null 2>&1 ||
    die "Debian sid from $mirror has no mysql-server-core (log: $log)"

# The package set: MySQL's two core packages and the libraries they need
# (perl, debconf, ... are not needed to run mysqld and mysql).
mapfile -t pkgs < <(deb_resolve_libs mysql-server-core mysql-client-core) ||
    die "could not resolve the MySQL packages in sid (log: $log)"
((${#pkgs[@]} > 2)) || die "package resolution returned nothing"
version=$(apt-cache show --no-all-versions mysql-server-core | sed -n 's/^Version: //p')

say "downloading ${#pkgs[@]} packages (mysql-server-core $version)"
staging=$(mktemp -d "$cache/root.tmp.XXXXXX")
debs=$cache/debs
deb_unpack "$debs" "$staging" "$log" "${pkgs[@]}"

root=$cache/root
loader=$staging/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
[[ -x $loader && -x $staging/usr/sbin/mysqld ]] ||
    { rm -rf "$staging"; die "unpacked tree lacks the loader or mysqld"; }
# Binaries and plugins look for their tree by absolute path given on the
# command line only, so the tree can be moved into place as a whole.
rm -rf "$root" "$cache/template"
mv "$staging" "$root"

# The data directory template. Settings that shape the files on disk (the
# redo log capacity) must match svc_mysql_start's.
say "initializing the data directory template"
tdir=$(mktemp -d "$cache/template.tmp.XXXXXX")
user_opt=()
((EUID == 0)) && user_opt=(--user=root)
if ! "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
        --library-path "$root/usr/lib/x86_64-linux-gnu" "$root/usr/sbin/mysqld" \
        --no-defaults "${user_opt[@]}" --basedir="$root/usr" \
        --lc-messages-dir="$root/usr/share/mysql" \
        --character-sets-dir="$root/usr/share/mysql/charsets" \
        --plugin-dir="$root/usr/lib/mysql/plugin" \
        --datadir="$tdir/data" --secure-file-priv="$tdir" \
        --innodb-redo-log-capacity=8M --log-error="$tdir/init.log" \
        --initialize-insecure >>"$log" 2>&1; then
    tail -n 20 "$tdir/init.log" >&2 || true
    rm -rf "$tdir"
    die "mysqld --initialize-insecure failed (log: $log)"
fi
# The server UUID is made at initialization; without auto.cnf each copy
# makes its own at first start.
rm -f "$tdir/data/auto.cnf"
mv "$tdir/data" "$cache/template"
rm -rf "$tdir" "$debs" "$apt_dir"

printf 'mysql-server-core %s\n%s\n' "$version" "${pkgs[*]}" >"$marker"
say "MySQL $version ready in $cache ($(du -sm "$root" | cut -f1) MB, $(($(date +%s) - t0)) s)"
done_
