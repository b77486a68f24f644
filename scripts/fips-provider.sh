#!/usr/bin/env bash
# Builds (once) an OpenSSL 3.0 FIPS provider that Node 20's bundled OpenSSL 3.0 can load, and an
# OpenSSL config that makes Node run with only that provider's algorithms. Idempotent: a finished
# build in the cache directory is reused (checked, not trusted blindly).
#
#   scripts/fips-provider.sh            build or reuse; the last line of stdout is the OPENSSL_CONF path
#   BERTH_FIPS_CACHE=/some/dir …        cache elsewhere (default /var/cache/berth-fips)
#
# Then: OPENSSL_CONF=<that path> node --enable-fips …   gives crypto.getFips() === 1.
# The provider is built from Debian's own openssl 3.0.x source package (apt-get source), which needs
# a deb-src entry: this script adds one with the same URIs as the existing apt sources (root only).
set -euo pipefail

CACHE="${BERTH_FIPS_CACHE:-/var/cache/berth-fips}"
CONF="$CACHE/openssl.cnf"
log() { echo "fips-provider: $*" >&2; }

# The config Node reads (rewritten on every run, so a changed template reaches cached builds).
write_conf() {
  cat >"$CONF.tmp.$$" <<EOF
# OpenSSL config for Node (section nodejs_conf): only the FIPS provider (and base, for encoders/decoders)
# are active, and every fetch asks for fips=yes. Use: OPENSSL_CONF=$CONF node --enable-fips …
# Written by Berth's scripts/fips-provider.sh from Debian's openssl source $(cat "$CACHE/VERSION" 2>/dev/null).
config_diagnostics = 1
# Only Node reads the nodejs_conf section: other OpenSSL programs given this OPENSSL_CONF keep their defaults.
nodejs_conf = nodejs_init

.include $CACHE/fipsmodule.cnf

[nodejs_init]
providers = provider_sect
alg_section = algorithm_sect

[provider_sect]
fips = fips_sect
base = base_sect

[base_sect]
activate = 1

[algorithm_sect]
default_properties = fips=yes
EOF
  mv -f "$CONF.tmp.$$" "$CONF"
}

check() {
  [ -f "$CONF" ] && [ -f "$CACHE/fips.so" ] && [ -f "$CACHE/fipsmodule.cnf" ] || return 1
  OPENSSL_CONF="$CONF" node --enable-fips -e '
    const c = require("node:crypto");
    if (c.getFips() !== 1) process.exit(2);
    try { c.createHash("md5"); process.exit(3); } catch {}
    c.createHash("sha256").update("x").digest();' >/dev/null 2>&1
}

[ -f "$CACHE/fipsmodule.cnf" ] && write_conf
if check; then
  log "reusing the FIPS provider in $CACHE"
  echo "$CONF"
  exit 0
fi

start=$(date +%s)
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if check; then echo "$CONF"; exit 0; fi   # another run finished it while we waited

# 1. Source entries: deb-src with the same URIs, suites and keys as the active deb entries.
if ! apt-cache showsrc openssl >/dev/null 2>&1 || [ -z "$(apt-cache showsrc openssl 2>/dev/null)" ]; then
  [ "$(id -u)" = 0 ] || { log "needs root once to add a deb-src entry and run apt-get update (or add deb-src yourself)"; exit 1; }
  out=/etc/apt/sources.list.d/berth-fips-deb-src.sources
  : >"$out.tmp"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && [ "$f" != "$out" ] || continue
    # Only Debian archives carry the openssl source package.
    grep -qE '^URIs:.*debian' "$f" || continue
    sed -E 's/^Types:.*/Types: deb-src/' "$f" >>"$out.tmp"
    echo >>"$out.tmp"
  done
  if [ -f /etc/apt/sources.list ]; then
    grep -E '^deb[[:space:]]' /etc/apt/sources.list | grep debian | sed -E 's/^deb[[:space:]]/deb-src /' >/etc/apt/sources.list.d/berth-fips-deb-src.list || true
  fi
  mv "$out.tmp" "$out"
  log "added deb-src entries ($out); apt-get update"
  apt-get update -qq
fi

# 2. The newest openssl 3.0.x source apt can fetch (an older listed one if the newest is gone).
SRC="$CACHE/src"
mkdir -p "$SRC"
cd "$SRC"
dir=$(find . -maxdepth 1 -type d -name 'openssl-3.0.*' | sort -V | tail -n1)
if [ -z "$dir" ]; then
  versions=$(apt-cache showsrc openssl | awk '/^Version: 3\.0\./ {print $2}' | sort -Vr | uniq)
  [ -n "$versions" ] || { log "no openssl 3.0.x source package is listed by apt-cache showsrc openssl"; exit 1; }
  got=""
  for v in $versions; do
    log "apt-get source openssl=$v"
    if apt-get source -qq "openssl=$v" >&2; then got=$v; break; fi
    log "openssl=$v is not downloadable; trying an older one"
  done
  [ -n "$got" ] || { log "could not download any openssl 3.0.x source ($versions)"; exit 1; }
  dir=$(find . -maxdepth 1 -type d -name 'openssl-3.0.*' | sort -V | tail -n1)
fi
cd "$dir"
log "building the FIPS provider in $SRC/${dir#./} ($(nproc) cores)"

# 3. Build only what is needed: the provider and the openssl tool that installs it.
if [ ! -f Makefile ]; then ./Configure enable-fips no-tests >&2; fi
make -s build_generated >&2
make -s -j"$(nproc)" providers/fips.so apps/openssl >&2

# 4. Install: copy the module, run the self-tests and write its MAC into fipsmodule.cnf.
cp providers/fips.so "$CACHE/fips.so"
LD_LIBRARY_PATH="$PWD" apps/openssl fipsinstall -module "$CACHE/fips.so" -out "$CACHE/fipsmodule.cnf.tmp" >&2
# Name the module file in its section, so no OPENSSL_MODULES is needed (the MAC covers the module, not this line).
sed -E "s|^\[fips_sect\]|[fips_sect]\nmodule = $CACHE/fips.so|" "$CACHE/fipsmodule.cnf.tmp" >"$CACHE/fipsmodule.cnf"
rm -f "$CACHE/fipsmodule.cnf.tmp"

echo "${dir#./}" >"$CACHE/VERSION"
write_conf

if ! check; then
  log "built, but node does not run in FIPS mode with $CONF; try: OPENSSL_CONF=$CONF node --enable-fips -p 'require(\"crypto\").getFips()'"
  exit 1
fi
log "FIPS provider ready in $(( $(date +%s) - start ))s: OPENSSL_CONF=$CONF"
echo "$CONF"
