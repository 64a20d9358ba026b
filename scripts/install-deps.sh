#!/usr/bin/env bash
# Installs what sluice needs to build and to run its integration tests on
# Debian 12: build/test libraries, clang with libFuzzer, the database servers
# the tests start, kcat, curl, a Java runtime + Maven, the Kafka broker jars,
# the toxiproxy fault proxy, Oracle MySQL from Debian sid (cached outside
# the repo, see scripts/fetch-mysql.sh), Apicurio Registry (the schema
# registry of the Avro tests) and a Python venv with confluent-kafka and
# fastavro (the Avro tests' independent consumer, and the librdkafka 2.6.1
# of the SASL/SCRAM test: the confluent-kafka wheel carries it).
#
# Idempotent and cheap when everything is present: one dpkg-query call and a
# file check, no network. Safe to call at the top of .ci/run.
#
# Environment:
#   SLUICE_CACHE          cache root (default: $HOME/.cache/sluice)
#   SLUICE_KAFKA_VERSION  Kafka version (default: <kafka.version> in kafka-pom.xml)
#   SLUICE_SKIP_KAFKA=1   skip resolving the Kafka jars
#   SLUICE_SKIP_MYSQL=1   skip fetching MySQL (scripts/fetch-mysql.sh)
#   SLUICE_SKIP_TOXIPROXY=1  skip building toxiproxy
#   SLUICE_SKIP_REGISTRY=1  skip Apicurio Registry and the Python venv
#   SLUICE_APICURIO_VERSION  Apicurio Registry version (default 3.0.9)
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kafka_pom="$script_dir/kafka-pom.xml"

die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'install-deps: %s\n' "$*"; }

build_pkgs=(cmake gcc pkg-config libpq-dev librdkafka-dev libavro-dev libcurl4-openssl-dev
            libcriterion-dev libjansson-dev libmariadb-dev libpcre2-dev libssl-dev
            libzstd-dev zlib1g-dev libmicrohttpd-dev clang-format)
# The fuzz targets (scripts/fuzz.sh): clang and its libFuzzer runtime.
fuzz_pkgs=(clang libclang-rt-14-dev)
# openssl makes the test servers' TLS certificates; debian-archive-keyring
# and dpkg-deb (in dpkg) are what scripts/fetch-mysql.sh needs for MySQL.
# systemd: systemd-analyze checks packaging/sluice.service.
# PostGIS gives the golden and integration tests real geometry/geography
# columns (hstore, ltree and citext come with postgresql-contrib in
# postgresql-15; pgvector has no Debian 12 package, see tests/golden/debezium).
service_pkgs=(postgresql postgresql-15-postgis-3 mariadb-server kcat curl openssl
              debian-archive-keyring python3-venv systemd)
# The container image is built and run in the tests (tests/container/run.sh).
container_pkgs=(podman buildah runc mmdebstrap python3-yaml)

# --- Debian packages --------------------------------------------------------

command -v dpkg-query >/dev/null 2>&1 ||
    die "dpkg-query not found: this script expects Debian 12 (or a derivative)"

wanted=("${build_pkgs[@]}" "${fuzz_pkgs[@]}" "${service_pkgs[@]}" "${container_pkgs[@]}")
# Java may come from outside Debian (e.g. a JDK in /usr/lib/jvm), so only ask
# for the Debian packages when the commands are absent.
command -v java >/dev/null 2>&1 || wanted+=(default-jre-headless)
command -v mvn  >/dev/null 2>&1 || wanted+=(maven)

# One dpkg-query call for all names; unknown packages print nothing for
# db:Status-Abbrev but still exit non-zero, hence the `|| true`.
declare -A installed=()
while read -r name status; do
    [[ $status == ii* ]] && installed[${name%%:*}]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${wanted[@]}" 2>/dev/null || true)

missing=()
for p in "${wanted[@]}"; do
    [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done

if ((${#missing[@]})); then
    sudo_cmd=()
    if ((EUID != 0)); then
        if command -v sudo >/dev/null 2>&1; then
            sudo_cmd=(sudo)
        else
            die "missing Debian packages: ${missing[*]}
  not root and sudo is unavailable; as root run:
  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
        fi
    fi
    say "installing: ${missing[*]}"
    apt_log=$(mktemp "${TMPDIR:-/tmp}/sluice-apt.XXXXXX")
    # policy-rc.d in containers keeps the packaged services from starting; the
    # tests never use the system instances anyway (they start private ones).
    if ! { "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
               --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
        tail -n 30 "$apt_log" >&2
        die "apt-get failed (full log: $apt_log)"
    fi
    rm -f "$apt_log"
fi

# --- Oracle MySQL (Debian sid's, unpacked into the cache) --------------------

# Not fatal: without it the MySQL tests cannot run, and scripts/test.sh says
# so loudly ("NOT RUN: ...", a failure unless SLUICE_ALLOW_MISSING_MYSQL=1).
if [[ ${SLUICE_SKIP_MYSQL:-0} != 1 ]]; then
    if ! bash "$script_dir/fetch-mysql.sh"; then
        printf '\ninstall-deps: WARNING: Oracle MySQL could not be fetched (see above);\n' >&2
        printf 'install-deps: WARNING: the MySQL tests will NOT RUN.\n\n' >&2
    fi
fi

# --- toxiproxy: the fault suite's TCP fault proxy ------------------------------
# Built from the Go module proxy with `go install` and cached; a Go older than
# 1.21 (Debian 12's golang-go is 1.19) first fetches a newer toolchain, which
# the module proxy serves as the module golang.org/toolchain.

toxi_version=2.12.0
toxi_dir="${SLUICE_CACHE:-$HOME/.cache/sluice}/toxiproxy-$toxi_version"
if [[ ${SLUICE_SKIP_TOXIPROXY:-0} != 1 && ! -x $toxi_dir/toxiproxy-server ]]; then
    go_bin=$(command -v go || true)
    [[ -z $go_bin && -x /usr/local/go/bin/go ]] && go_bin=/usr/local/go/bin/go
    if [[ -z $go_bin ]]; then
        say "installing: golang-go"
        sudo_cmd=()
        ((EUID == 0)) || sudo_cmd=(sudo)
        "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends golang-go >/dev/null || die "could not install golang-go"
        go_bin=$(command -v go) || die "go not found after installing golang-go"
    fi
    mkdir -p "$toxi_dir"
    gopath="$toxi_dir/gopath"
    go_version=$("$go_bin" env GOVERSION 2>/dev/null || "$go_bin" version | awk '{print $3}')
    go_minor=$(sed -n 's/^go1\.\([0-9]*\).*/\1/p' <<<"$go_version")
    if ((${go_minor:-0} < 21)); then
        case $(uname -m) in
            x86_64) go_arch=amd64 ;;
            aarch64) go_arch=arm64 ;;
            *) die "no Go toolchain module for $(uname -m)" ;;
        esac
        say "fetching Go 1.23.4 (the module golang.org/toolchain) for toxiproxy"
        toolchain_dir=$(cd "$toxi_dir" && GOPATH=$gopath GOFLAGS=-mod=mod GO111MODULE=on \
            "$go_bin" mod download -json "golang.org/toolchain@v0.0.1-go1.23.4.linux-$go_arch" |
            sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p') || true
        [[ -x $toolchain_dir/bin/go ]] || die "could not fetch the Go 1.23.4 toolchain module"
        go_bin=$toolchain_dir/bin/go
    fi
    say "building toxiproxy $toxi_version into $toxi_dir"
    staging=$(mktemp -d "$toxi_dir/bin.XXXXXX")
    if ! GOBIN=$staging GOPATH=$gopath GOFLAGS=-modcacherw GOTOOLCHAIN=auto \
            "$go_bin" install "github.com/Shopify/toxiproxy/v2/cmd/server@v$toxi_version" \
            >"$staging.log" 2>&1; then
        tail -n 20 "$staging.log" >&2
        die "go install of toxiproxy failed (log: $staging.log)"
    fi
    mv "$staging/server" "$toxi_dir/toxiproxy-server"
    rm -rf "$staging" "$staging.log" "$gopath"
fi

cache_root=${SLUICE_CACHE:-$HOME/.cache/sluice}

# --- Apicurio Registry (schema registry of the Avro tests) --------------------

# A runnable Quarkus distribution with in-memory storage, Confluent's API at
# /apis/ccompat/v7. Its parent POM is not on Maven Central, so maven-dependency-
# plugin 3.x refuses the artifact; 2.8's get without transitive dependencies
# fetches the file alone.
install_registry() {
    local version=${SLUICE_APICURIO_VERSION:-3.0.9}
    local home=$cache_root/apicurio-registry-$version
    [[ -f $home/.complete ]] && return 0
    command -v mvn >/dev/null 2>&1 || die "mvn not found after installing maven"
    say "fetching Apicurio Registry $version into $home"
    mkdir -p "$cache_root"
    local staging
    staging=$(mktemp -d "$home.tmp.XXXXXX")
    if ! mvn -B -q -Dstyle.color=never \
            org.apache.maven.plugins:maven-dependency-plugin:2.8:get -Dtransitive=false \
            "-Dartifact=io.apicurio:apicurio-registry-app:$version:tar.gz:all" \
            "-Ddest=$staging/app.tar.gz" >"$staging.log" 2>&1; then
        tail -n 30 "$staging.log" >&2
        rm -rf "$staging"
        die "maven could not fetch io.apicurio:apicurio-registry-app:$version (log: $staging.log)"
    fi
    tar -xzf "$staging/app.tar.gz" -C "$staging" && rm -f "$staging/app.tar.gz"
    compgen -G "$staging/apicurio-registry-app-*-runner.jar" >/dev/null ||
        die "the Apicurio Registry archive has no runner jar (log: $staging.log)"
    touch "$staging/.complete"
    rm -rf "$home"
    mv "$staging" "$home"
    rm -f "$staging.log"
}

# --- Python venv: the Avro tests' consumer that is not sluice -----------------

install_python_venv() {
    local venv=$cache_root/pyvenv
    local want="confluent-kafka==2.6.1 fastavro==1.9.7"
    [[ -f $venv/.complete && $(<"$venv/.complete") == "$want" ]] && return 0
    say "installing $want into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (is python3-venv installed?)"
    # shellcheck disable=SC2086  # the package list is split on purpose
    if ! "$venv/bin/pip" install -q --disable-pip-version-check $want >"$venv.log" 2>&1; then
        tail -n 30 "$venv.log" >&2
        die "pip could not install $want (log: $venv.log)"
    fi
    printf '%s' "$want" >"$venv/.complete"
    rm -f "$venv.log"
}

if [[ ${SLUICE_SKIP_REGISTRY:-0} != 1 ]]; then
    install_registry
    install_python_venv
fi

# --- Kafka broker jars --------------------------------------------------------

if [[ ${SLUICE_SKIP_KAFKA:-0} == 1 ]]; then
    exit 0
fi

[[ -r $kafka_pom ]] || die "missing $kafka_pom"
default_kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$kafka_pom")
kafka_version=${SLUICE_KAFKA_VERSION:-$default_kafka_version}
[[ -n $kafka_version ]] || die "cannot read <kafka.version> from $kafka_pom"

kafka_home="${SLUICE_CACHE:-$HOME/.cache/sluice}/kafka-$kafka_version"
libs="$kafka_home/libs"
# The marker is written only after a complete copy, so an interrupted run is
# redone rather than leaving a half-filled classpath behind.
if [[ -f $libs/.complete && -f $libs/kafka_2.13-$kafka_version.jar ]]; then
    exit 0
fi

command -v mvn >/dev/null 2>&1 || die "mvn not found after installing maven"
command -v java >/dev/null 2>&1 || die "java not found after installing a JRE"
# Kafka 4 brokers need Java 17+; checked only here so the fast path stays fast.
java_major=$(java -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
[[ ${java_major:-0} -ge 17 ]] ||
    die "Kafka $kafka_version needs Java 17 or newer; 'java' is version ${java_major:-unknown}"

say "resolving Kafka $kafka_version jars into $libs"
mkdir -p "$kafka_home"
staging=$(mktemp -d "$kafka_home/libs.tmp.XXXXXX")
mvn_log="$staging.log"
if ! mvn -B -q -Dstyle.color=never -f "$kafka_pom" \
        -Dkafka.version="$kafka_version" \
        -DoutputDirectory="$staging" \
        -DincludeScope=runtime \
        dependency:copy-dependencies >"$mvn_log" 2>&1; then
    tail -n 30 "$mvn_log" >&2
    rm -rf "$staging"
    die "maven could not resolve org.apache.kafka:kafka_2.13:$kafka_version (full log: $mvn_log)"
fi
[[ -f $staging/kafka_2.13-$kafka_version.jar ]] ||
    die "maven finished but kafka_2.13-$kafka_version.jar is missing (log: $mvn_log)"
touch "$staging/.complete"
rm -rf "$libs"
mv "$staging" "$libs"
rm -f "$mvn_log"
say "kafka $kafka_version ready ($(find "$libs" -name '*.jar' | wc -l) jars)"
