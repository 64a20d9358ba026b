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

for c in apt-get apt-cache dpkg dpkg-deb dpkg-query python3; do
    command -v "$c" >/dev/null 2>&1 || die "$c not found (this script expects Debian)"
done
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r $keyring ]] || die "$keyring missing (install debian-archive-keyring)"
[[ $(dpkg --print-architecture) == amd64 ]] || die "only amd64 is supported"

# The system's Debian mirror and security archive: the first URI of a source
# that serves a Debian release suite, and the first with "security" in it.
read -r mirror security < <(python3 - <<'PY'
import glob, re
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
    + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
suite_re = r"(bullseye|bookworm|trixie|forky|sid|unstable|testing|stable)(-updates|-security)?"
found = {"main": "-", "security": "-"}
def note(uri, suites):
    if not any(re.fullmatch(suite_re, s) for s in suites):
        return
    kind = "security" if "security" in uri else "main"
    if found[kind] == "-":
        found[kind] = uri
for path in files:
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        continue
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.split()
            if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
                for uri in fields.get("uris", []):
                    note(uri, fields.get("suites", []))
    else:
        for line in text.splitlines():
            m = re.match(r"\s*deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m:
                note(m.group(2), [m.group(3)])
print(found["main"], found["security"])
PY
)
mirror=${SLUICE_DEBIAN_MIRROR:-$mirror}
security=${SLUICE_DEBIAN_SECURITY_MIRROR:-$security}
[[ -n $mirror && $mirror != - ]] ||
    die "no Debian mirror found in /etc/apt/sources.list* (set SLUICE_DEBIAN_MIRROR)"

t0=$(date +%s)
mkdir -p "$cache"
apt_dir=$cache/apt
rm -rf "$apt_dir"
mkdir -p "$apt_dir"/{lists/partial,archives/partial,sources.list.d,preferences.d}
: >"$apt_dir/status"
printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" >"$apt_dir/sources.list"
# sid has no security suite; a stable suite's security updates carry its
# latest PostgreSQL minor release.
if [[ $suite != sid && $suite != unstable && $security != - && $security != none ]]; then
    printf 'deb [signed-by=%s] %s %s-security main\n' "$keyring" "$security" "$suite" \
        >>"$apt_dir/sources.list"
fi
cat >"$apt_dir/apt.conf" <<EOF
Dir::State "$apt_dir";
Dir::State::Lists "$apt_dir/lists";
Dir::State::status "$apt_dir/status";
Dir::Cache "$apt_dir";
Dir::Cache::archives "$apt_dir/archives";
Dir::Etc::SourceList "$apt_dir/sources.list";
Dir::Etc::SourceParts "$apt_dir/sources.list.d";
Dir::Etc::Preferences "$apt_dir/preferences";
Dir::Etc::PreferencesParts "$apt_dir/preferences.d";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "$(id -un)";
Acquire::Languages "none";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled "false";
Acquire::IndexTargets::deb::CNF::DefaultEnabled "false";
EOF

say "apt-get update (Debian $suite from $mirror)"
log=$cache/fetch.log
sys_libc=$(dpkg-query -W -f='${Version}' libc6)
export APT_CONFIG=$apt_dir/apt.conf
# --error-on=any: a mirror that cannot be reached is an error, not a warning.
if ! apt-get update -q --error-on=any >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "apt-get update could not read Debian $suite from $mirror (log: $log)"
fi
apt-cache show --no-all-versions "postgresql-$major" >/dev/null 2>&1 ||
    die "Debian $suite has no postgresql-$major (set SLUICE_PG_SUITE to a suite that has it)"

suite_libc=$(apt-cache show --no-all-versions libc6 | sed -n 's/^Version: //p')
own_libc=1
dpkg --compare-versions "$suite_libc" le "$sys_libc" && own_libc=0

# The package set (see the header); dpkg-query reads the system's status,
# whatever APT_CONFIG says.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' 2>/dev/null |
    awk '$2 ~ /^ii/ { print $1 }')
mapfile -t pkgs < <(OWN_LIBC=$own_libc INSTALLED=$installed MAJOR=$major python3 - <<'PY'
import os, re, subprocess, sys
own_libc = os.environ["OWN_LIBC"] == "1"
installed = set(os.environ["INSTALLED"].split())
def show(names):
    out = subprocess.run(["apt-cache", "show", "--no-all-versions", *names],
                         capture_output=True, text=True).stdout
    res = {}
    for para in out.split("\n\n"):
        fields, key = {}, None
        for line in para.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += line
                continue
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        if "Package" in fields:
            res[fields["Package"]] = fields
    return res
def wanted(dep):
    if not (dep.startswith("lib") or dep == "zlib1g") or dep.startswith("libllvm"):
        return False
    # With the system's C library, what the system has is new enough.
    return own_libc or dep not in installed
roots = ["postgresql-" + os.environ["MAJOR"]]
todo, seen, found = list(roots), set(roots), {}
while todo:
    got = show(todo)
    missing = [n for n in todo if n not in got]
    if missing:
        sys.exit("not in the suite: " + " ".join(missing))
    todo = []
    for name, fields in got.items():
        found[name] = fields
        for field in ("Pre-Depends", "Depends"):
            for clause in fields.get(field, "").split(","):
                first = clause.split("|")[0].strip()
                if not first:
                    continue
                dep = re.split(r"[ (]", first)[0].split(":")[0]
                if dep in seen:
                    continue
                seen.add(dep)
                if wanted(dep):
                    todo.append(dep)
for name in sorted(found):
    print(name)
PY
) || die "could not resolve postgresql-$major's packages in $suite (log: $log)"
((${#pkgs[@]})) || die "package resolution returned nothing"
version=$(apt-cache show --no-all-versions "postgresql-$major" | sed -n 's/^Version: //p')

libc_says="the system's C library"
((own_libc)) && libc_says="$suite's C library $suite_libc"
say "downloading ${#pkgs[@]} packages (postgresql-$major $version, to run with $libc_says)"
staging=$(mktemp -d "$cache/root.tmp.XXXXXX")
debs=$cache/debs
rm -rf "$debs"
mkdir -p "$debs"
if ! (cd "$debs" && apt-get download -q "${pkgs[@]}") >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -rf "$staging"
    die "apt-get download failed (log: $log)"
fi
for deb in "$debs"/*.deb; do
    dpkg-deb -x "$deb" "$staging" || { rm -rf "$staging"; die "dpkg-deb -x $deb failed"; }
done

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
