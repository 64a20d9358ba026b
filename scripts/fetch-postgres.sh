#!/usr/bin/env bash
# Fetches a PostgreSQL server of another major version than the system's
# (Debian 12 has only 15) from a Debian suite that packages it, unpacked, not
# installed, so the integration tests can run against it
# (SLUICE_TEST_PG_MAJOR=N scripts/test.sh integration; tests/lib/services.sh,
# _svc_pg_bindir). sluice picks its pgoutput options by server version
# (pg_repl_options_choose): 13 is the last without protocol version 2 and
# streaming, 17 and 18 are newer than 15.
#
# What it does, once per major version (later calls only check the marker,
# no network):
#   1. a private apt state (its own sources.list, lists and archives under
#      the cache) pointing at this system's Debian mirror with the suite that
#      has postgresql-N (13: bullseye, 15: bookworm, 17: trixie, 18 and
#      others: sid; SLUICE_PG_SUITE overrides), plus the suite's security
#      updates where they exist, signed by debian-archive-keyring;
#   2. resolves postgresql-N and, transitively, the first alternative of
#      each Depends/Pre-Depends that is a library (lib*, zlib1g), except
#      LLVM: only the JIT uses it, and without llvmjit.so (removed) the
#      server does not try.
#      When the suite's C library is not newer than the system's, the
#      system's C library runs the binaries and every library package the
#      system already has (same name, so same soname) is left out;
#      otherwise the suite's own C library and loader come too, as for
#      MySQL from sid (scripts/fetch-mysql.sh);
#   3. apt-get download + dpkg-deb -x of each into ROOT, then replaces
#      initdb, pg_ctl, postgres and pg_controldata in ROOT's bindir with
#      small shell scripts that start the real binary (NAME.bin, next to it,
#      so the server still finds its share and lib directories relative to
#      itself) through the chosen loader with ROOT's libraries, under the
#      script's name (--argv0): initdb and pg_ctl start postgres by path,
#      and pg_ctl restart by the path postgres wrote to postmaster.opts, so
#      they reach the script too. The scripts find ROOT relative to
#      themselves: the tree can be copied.
#
# Layout: $SLUICE_CACHE/postgresql-N/{apt,debs,root,.complete}. The marker
# .complete holds the version, suite and package list.
#
# Usage: scripts/fetch-postgres.sh MAJOR [--print-bindir]
#   --print-bindir  print ROOT/usr/lib/postgresql/MAJOR/bin on success
# Environment:
#   SLUICE_CACHE             cache root (default: $HOME/.cache/sluice)
#   SLUICE_PG_SUITE          Debian suite to take postgresql-MAJOR from
#   SLUICE_PG_REFRESH=1      fetch again even when the cache is complete
#   SLUICE_DEBIAN_MIRROR     Debian mirror URI (default: the first Debian URI
#                            in /etc/apt/sources.list{,.d/*})
#   SLUICE_DEBIAN_SECURITY_MIRROR  the security archive's URI (default: the
#                            first debian-security URI there; "none": skip)
# Exit status: 0 when ROOT is ready, 1 otherwise (with the reason on stderr).
set -euo pipefail

die() { printf 'fetch-postgres: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'fetch-postgres: %s\n' "$*" >&2; }

major=${1:-}
[[ $major =~ ^[0-9]+$ ]] || die "usage: scripts/fetch-postgres.sh MAJOR [--print-bindir]"
print_bindir=0
[[ ${2:-} == --print-bindir ]] && print_bindir=1

cache=${SLUICE_CACHE:-$HOME/.cache/sluice}/postgresql-$major
marker=$cache/.complete
bindir_rel=usr/lib/postgresql/$major/bin

done_() {
    ((print_bindir)) && printf '%s\n' "$cache/root/$bindir_rel"
    exit 0
}

if [[ ${SLUICE_PG_REFRESH:-0} != 1 && -f $marker && -x $cache/root/$bindir_rel/postgres.bin ]]; then
    done_
fi

case $major in
    13) suite=bullseye ;;
    15) suite=bookworm ;;
    17) suite=trixie ;;
    *) suite=sid ;;
esac
suite=${SLUICE_PG_SUITE:-$suite}

# shellcheck source=lib/debian-unpack.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-unpack.sh"
deb_check_tools apt-get apt-cache dpkg dpkg-deb dpkg-query python3
deb_mirrors

t0=$(date +%s)
mkdir -p "$cache"
apt_dir=$cache/apt
log=$cache/fetch.log
sys_libc=$(dpkg-query -W -f='${Version}' libc6)
deb_apt_setup "$apt_dir" "$suite" "$log"
apt-cache show --no-all-versions "postgresql-$major" >/dev/null 2>&1 ||
    die "Debian $suite has no postgresql-$major (set SLUICE_PG_SUITE to a suite that has it)"

suite_libc=$(apt-cache show --no-all-versions libc6 | sed -n 's/^Version: //p')
own_libc=1
dpkg --compare-versions "$suite_libc" le "$sys_libc" && own_libc=0

# The package set (see the header); dpkg-query reads the system's status,
# whatever APT_CONFIG says.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' 2>/dev/null |
    awk '$2 ~ /^ii/ { print $1 }')
# LLVM: only the JIT uses it (see the header). With the system's C library,
# the libraries the system has are new enough (DEB_HAVE).
have=
((own_libc)) || have=$installed
mapfile -t pkgs < <(DEB_HAVE=$have \
    DEB_SKIP='dep.startswith("libllvm") or dep in os.environ["DEB_HAVE"].split()' \
    deb_resolve_libs "postgresql-$major") || die "could not resolve postgresql-$major's packages in $suite (log: $log)"
((${#pkgs[@]})) || die "package resolution returned nothing"
version=$(apt-cache show --no-all-versions "postgresql-$major" | sed -n 's/^Version: //p')

libc_says="the system's C library"
((own_libc)) && libc_says="$suite's C library $suite_libc"
say "downloading ${#pkgs[@]} packages (postgresql-$major $version, to run with $libc_says)"
staging=$(mktemp -d "$cache/root.tmp.XXXXXX")
debs=$cache/debs
deb_unpack "$debs" "$staging" "$log" "${pkgs[@]}"

bin=$staging/$bindir_rel
[[ -x $bin/postgres && -x $bin/initdb && -x $bin/pg_ctl ]] ||
    { rm -rf "$staging"; die "unpacked tree lacks $bindir_rel/{postgres,initdb,pg_ctl}"; }
if ((own_libc)); then
    loader=
    for l in usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 \
        lib64/ld-linux-x86-64.so.2; do
        [[ -e $staging/$l ]] && { loader='$root/'$l; break; }
    done
    [[ -n $loader ]] || { rm -rf "$staging"; die "unpacked tree lacks $suite's loader"; }
else
    loader=/lib64/ld-linux-x86-64.so.2
fi
# Without its provider library the server turns JIT off by itself (it checks
# that the file exists before loading it); LLVM was not fetched.
rm -rf "$staging/usr/lib/postgresql/$major/lib/llvmjit"* "$staging/usr/lib/postgresql/$major/lib/bitcode"
# ROOT from bindir: bin -> MAJOR -> postgresql -> lib -> usr -> ROOT.
for name in postgres initdb pg_ctl pg_controldata; do
    [[ -x $bin/$name ]] || continue
    mv "$bin/$name" "$bin/$name.bin"
    cat >"$bin/$name" <<EOF
#!/bin/sh
# Made by scripts/fetch-postgres.sh: $name of Debian $suite's postgresql-$major
# ($version), run through a loader with the libraries unpacked next to it.
bin=\$(cd "\$(dirname "\$0")" && pwd)
root=\$bin/../../../../..
exec "$loader" --library-path "\$root/usr/lib/x86_64-linux-gnu:\$root/lib/x86_64-linux-gnu" \\
    --argv0 "\$bin/$name" "\$bin/$name.bin" "\$@"
EOF
    chmod 0755 "$bin/$name"
done
if ! out=$("$bin/postgres" -V 2>&1) || [[ $out != "postgres (PostgreSQL) $major".* ]]; then
    printf '%s\n' "$out" >&2
    rm -rf "$staging"
    die "the unpacked postgres does not run"
fi

rm -rf "$cache/root"
mv "$staging" "$cache/root"
rm -rf "$debs" "$apt_dir"
printf 'postgresql-%s %s %s\n%s\n' "$major" "$version" "$suite" "${pkgs[*]}" >"$marker"
say "$out ready in $cache ($(du -sm "$cache/root" | cut -f1) MB, $(($(date +%s) - t0)) s)"
done_
