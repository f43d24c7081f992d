# Shared by scripts/up and scripts/test: install what is missing, then put the pinned Deno on PATH.
# Sourced, not run. Everything it installs goes into .tools/ (git ignores it) or comes from Debian.

DENO_VERSION="2.9.6"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
DENO_BIN="$TOOLS/node_modules/deno/deno"

log() { printf '%s\n' "$*" >&2; }

# Debian packages the project needs at run or test time: openssl makes the API server's CA;
# podman (with runc, conmon, CNI plugins) runs pods; busybox-static is the test image's base
# and runs probes inside pod network namespaces; iproute2/util-linux make node namespaces.
DEBIAN_PACKAGES=(ca-certificates openssl podman runc busybox-static iproute2 util-linux nftables)

ensure_debian_packages() {
  local missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "warning: missing Debian packages (${missing[*]}); run as root to install them"
    return 0
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

ensure_node() {
  command -v npm >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "error: npm is needed to install Deno; install nodejs and npm first"
    exit 1
  fi
  log "installing nodejs and npm from Debian"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
}

ensure_deno() {
  if [ -x "$DENO_BIN" ] && "$DENO_BIN" --version 2>/dev/null | grep -q "^deno $DENO_VERSION "; then
    return 0
  fi
  ensure_node
  log "installing deno $DENO_VERSION from the npm registry into .tools/"
  mkdir -p "$TOOLS"
  (cd "$TOOLS" && npm install --prefix "$TOOLS" --no-audit --no-fund --no-save --loglevel=error \
    "deno@$DENO_VERSION" >&2)
  if [ ! -x "$DENO_BIN" ]; then
    # the package's postinstall links the platform binary; fall back to the platform package
    local platform_bin
    platform_bin="$(find "$TOOLS/node_modules/@deno" -maxdepth 2 -name deno -type f | head -n 1)"
    [ -n "$platform_bin" ] || { log "error: deno binary not found after npm install"; exit 1; }
    DENO_BIN="$platform_bin"
  fi
  "$DENO_BIN" --version >&2
}

setup() {
  ensure_debian_packages
  ensure_deno
  export PATH="$(dirname "$DENO_BIN"):$PATH"
  export DENO_NO_UPDATE_CHECK=1
  cd "$ROOT"
}
