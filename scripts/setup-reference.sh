#!/usr/bin/env bash
# Installs the reference programs the tests compare Patrol against, from Debian/Ubuntu packages:
# Prometheus (with promtool), Alertmanager (with amtool), node and blackbox exporters, openssl,
# chromium, ping (icmp probes). Only what is missing, with apt-get's own output visible. It edits no system file and
# stops no process: if a package starts its service, that service keeps running (the tests start
# their own instances on random ports).
# Usage: npm run setup:reference [-- --strict]   (--strict: exit 1 if anything is still missing)
set -uo pipefail
strict=0
for a in "$@"; do
  case "$a" in
    --strict) strict=1 ;;
    *) echo "setup-reference: unknown argument $a (only --strict)" >&2; exit 2 ;;
  esac
done

# program → package
progs=(prometheus promtool prometheus-alertmanager amtool prometheus-node-exporter prometheus-blackbox-exporter openssl chromium ping)
pkg_of() {
  case "$1" in
    prometheus|promtool) echo prometheus ;;
    prometheus-alertmanager|amtool) echo prometheus-alertmanager ;;
    ping) echo iputils-ping ;;
    *) echo "$1" ;;
  esac
}
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ] || [ -x "/usr/sbin/$1" ]; }
missing_pkgs() {
  local out=() p
  for p in "${progs[@]}"; do have "$p" || out+=("$(pkg_of "$p")"); done
  [ ${#out[@]} -eq 0 ] || printf '%s\n' "${out[@]}" | sort -u | tr '\n' ' '
}

need=$(missing_pkgs)
if [ -z "$need" ]; then
  echo "setup-reference: all reference programs are installed (${progs[*]})"
  exit 0
fi
echo "setup-reference: missing packages: $need"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-reference: no apt-get here; install these yourself: $need" >&2
elif [ "$(id -u)" != 0 ]; then
  sudo_cmd=""
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=sudo; fi
  if [ -n "$sudo_cmd" ]; then
    echo "setup-reference: running: sudo apt-get update && sudo apt-get install -y --no-install-recommends $need"
    # shellcheck disable=SC2086
    sudo apt-get update && sudo apt-get install -y --no-install-recommends $need
  else
    echo "setup-reference: not root and no sudo; as root run: apt-get install -y --no-install-recommends $need" >&2
  fi
else
  echo "setup-reference: running: apt-get update && apt-get install -y --no-install-recommends $need"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  apt-get update && apt-get install -y --no-install-recommends $need
fi

still=$(missing_pkgs)
if [ -z "$still" ]; then
  echo "setup-reference: all reference programs are installed"
  exit 0
fi
echo "setup-reference: still missing: $still (tests that need them skip, or fail under CI=true)" >&2
[ "$strict" = 1 ] && exit 1
exit 0
