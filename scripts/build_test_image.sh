#!/usr/bin/env bash
# Build the test image localhost/edge-test:1 from Debian's busybox-static, with `podman import`
# (no registry is reachable here, so images are made locally).
#
#   scripts/build_test_image.sh [--force] [--conf PATH] [--busybox PATH]
#
# Skips the build when the image is already present, unless --force. podman is called with
# CONTAINERS_CONF pointing at a containers.conf that works on this machine (runc, explicit
# ulimits); --conf uses an existing one instead of a temporary copy. Progress goes to stderr.
set -euo pipefail

IMAGE="localhost/edge-test:1"
BUSYBOX="/bin/busybox"
CONF=""
FORCE=0
APPLETS=(sh ls cat echo sleep wget nc httpd env hostname mkdir true false test touch grep date id
  kill ps head tail rm cp mv ln chmod sed awk seq wc tr uname whoami printf timeout nslookup ping
  vi more sort uniq cut tee find xargs dd df du free top pwd expr basename dirname)

log() { printf 'build_test_image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --conf) shift; CONF="${1:?--conf needs a path}" ;;
    --busybox) shift; BUSYBOX="${1:?--busybox needs a path}" ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
  shift
done

command -v podman >/dev/null 2>&1 || die "podman is not installed (apt-get install podman runc)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing (apt-get install busybox-static)"
# A dynamically linked busybox would need its libraries inside the image.
if command -v file >/dev/null 2>&1 && ! file -L "$BUSYBOX" | grep -q "statically linked"; then
  die "$BUSYBOX is not statically linked (install busybox-static)"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [ -z "$CONF" ]; then
  CONF="$WORK/containers.conf"
  cat >"$CONF" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
fi
[ -f "$CONF" ] || die "containers.conf not found: $CONF"
export CONTAINERS_CONF="$CONF"

if [ "$FORCE" -eq 0 ] && podman image exists "$IMAGE"; then
  log "$IMAGE is present; nothing to do (use --force to rebuild)"
  exit 0
fi

ROOTFS="$WORK/rootfs"
log "making the root filesystem from $BUSYBOX"
mkdir -p "$ROOTFS"/{bin,etc,tmp,proc,sys,dev,root,var/www,usr/bin,usr/sbin,sbin}
chmod 1777 "$ROOTFS/tmp"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
chmod 0755 "$ROOTFS/bin/busybox"
for applet in "${APPLETS[@]}"; do
  "$BUSYBOX" --list | grep -Fqx -- "$applet" || die "$BUSYBOX has no applet '$applet'"
  ln -s busybox "$ROOTFS/bin/$applet"
done
cat >"$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$ROOTFS/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
cat >"$ROOTFS/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost
EOF
echo "edge test image" >"$ROOTFS/var/www/index.html"
log "rootfs: ${#APPLETS[@]} applets, $(du -sh "$ROOTFS" | cut -f1)"

TARBALL="$WORK/rootfs.tar"
tar --numeric-owner --owner=0 --group=0 -C "$ROOTFS" -cf "$TARBALL" .

PREVIOUS="$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
log "importing $IMAGE"
podman import \
  --change 'CMD ["/bin/sh"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'WORKDIR /' \
  --message "busybox-static test image" \
  "$TARBALL" "$IMAGE" >/dev/null
BUILT="$(podman image inspect --format '{{.Id}}' "$IMAGE")"
if [ -n "$PREVIOUS" ] && [ "$PREVIOUS" != "$BUILT" ]; then
  # The old build is now untagged; drop it unless a container still uses it.
  podman rmi "$PREVIOUS" >/dev/null 2>&1 && log "removed the previous build ${PREVIOUS:0:12}" ||
    log "kept the previous build ${PREVIOUS:0:12} (still in use)"
fi
log "built $IMAGE ($BUILT)"
