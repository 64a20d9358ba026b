# Sourced by scripts/fetch-mysql.sh and scripts/fetch-postgres.sh: fetching
# packages of another Debian suite into a directory, unpacked, not installed.
# The caller defines die and say (messages to stderr) and runs with set -eu.
#
#   deb_check_tools CMD...       every command exists (this expects Debian)
#   deb_mirrors                  sets mirror and security: the system's Debian
#                                mirror and security archive ("-" when none),
#                                from /etc/apt/sources.list{,.d/*};
#                                SLUICE_DEBIAN_MIRROR and
#                                SLUICE_DEBIAN_SECURITY_MIRROR override them
#   deb_apt_setup DIR SUITE      a private apt state in DIR for SUITE (plus
#                                SUITE-security where there is one), exported
#                                as APT_CONFIG; apt-get update into LOG
#   deb_resolve_libs ROOT...     prints ROOT and, transitively, the first
#                                alternative of each Depends/Pre-Depends that
#                                is a library (lib*, zlib1g), one per line;
#                                DEB_SKIP (a Python expression over dep) leaves
#                                libraries out
#   deb_unpack DEBS STAGING PKG...  apt-get download into DEBS, dpkg-deb -x
#                                of each into STAGING

deb_keyring=/usr/share/keyrings/debian-archive-keyring.gpg

deb_check_tools() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "$c not found (this script expects Debian)"
    done
    [[ -r $deb_keyring ]] || die "$deb_keyring missing (install debian-archive-keyring)"
    [[ $(dpkg --print-architecture 2>/dev/null || echo amd64) == amd64 ]] ||
        die "only amd64 is supported"
}

deb_mirrors() {
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
}

# deb_apt_setup DIR SUITE LOG (after deb_mirrors)
deb_apt_setup() {
    local dir=$1 suite=$2 log=$3
    rm -rf "$dir"
    mkdir -p "$dir"/{lists/partial,archives/partial,sources.list.d,preferences.d}
    : >"$dir/status"
    printf 'deb [signed-by=%s] %s %s main\n' "$deb_keyring" "$mirror" "$suite" >"$dir/sources.list"
    # sid has no security suite; a stable suite's carries its latest updates.
    if [[ $suite != sid && $suite != unstable && $security != - && $security != none ]]; then
        printf 'deb [signed-by=%s] %s %s-security main\n' "$deb_keyring" "$security" "$suite" \
            >>"$dir/sources.list"
    fi
    cat >"$dir/apt.conf" <<EOF
Dir::State "$dir";
Dir::State::Lists "$dir/lists";
Dir::State::status "$dir/status";
Dir::Cache "$dir";
Dir::Cache::archives "$dir/archives";
Dir::Etc::SourceList "$dir/sources.list";
Dir::Etc::SourceParts "$dir/sources.list.d";
Dir::Etc::Preferences "$dir/preferences";
Dir::Etc::PreferencesParts "$dir/preferences.d";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "$(id -un)";
Acquire::Languages "none";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled "false";
Acquire::IndexTargets::deb::CNF::DefaultEnabled "false";
EOF
    export APT_CONFIG=$dir/apt.conf
    say "apt-get update (Debian $suite from $mirror)"
    # --error-on=any: a mirror that cannot be reached is an error, not a warning.
    if ! apt-get update -q --error-on=any >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "apt-get update could not read Debian $suite from $mirror (log: $log)"
    fi
}

deb_resolve_libs() {
    DEB_SKIP=${DEB_SKIP:-False} python3 - "$@" <<'PY'
import os, re, subprocess, sys
skip = compile(os.environ["DEB_SKIP"], "DEB_SKIP", "eval")
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
roots = sys.argv[1:]
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
                if (dep.startswith("lib") or dep == "zlib1g") and not eval(skip, {"dep": dep, "os": os}):
                    todo.append(dep)
for name in sorted(found):
    print(name)
PY
}

# deb_unpack DEBS STAGING LOG PKG...
deb_unpack() {
    local debs=$1 staging=$2 log=$3 deb
    shift 3
    rm -rf "$debs"
    mkdir -p "$debs"
    if ! (cd "$debs" && apt-get download -q "$@") >>"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -rf "$staging"
        die "apt-get download failed (log: $log)"
    fi
    for deb in "$debs"/*.deb; do
        dpkg-deb -x "$deb" "$staging" || { rm -rf "$staging"; die "dpkg-deb -x $deb failed"; }
    done
}
