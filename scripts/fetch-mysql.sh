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

for c in apt-get apt-cache dpkg-deb python3; do
    command -v "$c" >/dev/null 2>&1 || die "$c not found (this script expects Debian)"
done
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r $keyring ]] || die "$keyring missing (install debian-archive-keyring)"

# The system's Debian mirror: the first URI of a source that serves a Debian
# release suite (not -security, which has no sid).
mirror=${SLUICE_DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
    mirror=$(python3 - <<'PY'
import glob, re
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
    + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
def debian(uri, suites):
    return "security" not in uri and any(
        re.fullmatch(r"(bookworm|trixie|forky|sid|unstable|testing|stable)(-updates)?", s) for s in suites)
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
                    if debian(uri, fields.get("suites", [])):
                        print(uri); raise SystemExit
    else:
        for line in text.splitlines():
            m = re.match(r"\s*deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m and debian(m.group(2), [m.group(3)]):
                print(m.group(2)); raise SystemExit
PY
)
fi
[[ -n $mirror ]] || die "no Debian mirror found in /etc/apt/sources.list* (set SLUICE_DEBIAN_MIRROR)"

t0=$(date +%s)
mkdir -p "$cache"
apt_dir=$cache/apt
rm -rf "$apt_dir"
mkdir -p "$apt_dir"/{lists/partial,archives/partial,sources.list.d,preferences.d}
: >"$apt_dir/status"
printf 'deb [signed-by=%s] %s sid main\n' "$keyring" "$mirror" >"$apt_dir/sources.list"
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
export APT_CONFIG=$apt_dir/apt.conf
[[ $(dpkg --print-architecture 2>/dev/null || echo amd64) == amd64 ]] ||
    die "only amd64 is supported (sid's mysql-server-core for this architecture was not tried)"

say "apt-get update (Debian sid from $mirror)"
log=$cache/fetch.log
# --error-on=any: a mirror that cannot be reached is an error, not a warning.
if ! apt-get update -q --error-on=any >"$log" 2>&1 ||
        ! apt-cache show --no-all-versions mysql-server-core >/dev/null 2>&1; then
    tail -n 20 "$log" >&2
    die "apt-get update could not read Debian sid from $mirror (log: $log)"
fi

# Resolve the package set: MySQL's two core packages plus, transitively, the
# first alternative of each dependency that is a shared library. Others
# (perl, debconf, ...) are not needed to run mysqld and mysql.
mapfile -t pkgs < <(python3 - <<'PY'
import re, subprocess, sys
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
roots = ["mysql-server-core", "mysql-client-core"]
todo, seen, found = list(roots), set(roots), {}
while todo:
    got = show(todo)
    missing = [n for n in todo if n not in got]
    if missing:
        sys.exit("not in sid: " + " ".join(missing))
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
                if dep.startswith("lib") or dep == "zlib1g":
                    todo.append(dep)
for name in sorted(found):
    print(name)
PY
) || die "could not resolve the MySQL packages in sid (log: $log)"
((${#pkgs[@]} > 2)) || die "package resolution returned nothing"
version=$(apt-cache show --no-all-versions mysql-server-core | sed -n 's/^Version: //p')

say "downloading ${#pkgs[@]} packages (mysql-server-core $version)"
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
