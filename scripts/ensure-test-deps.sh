#!/usr/bin/env bash
# Installs the Debian packages the tests compare Patrol against (the real Prometheus, Alertmanager,
# exporters). Run by `npm test` (pretest). Idempotent and quiet when everything is present; tests
# that need a missing binary skip and say so, so this never fails the run by itself.
set -u
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-node-exporter >/dev/null 2>&1 || need+=(prometheus-node-exporter)
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || need+=(prometheus-blackbox-exporter)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: missing ${need[*]} (not root or no apt-get); tests that need them will skip" >&2
  exit 0
fi
echo "ensure-test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
# --no-install-recommends keeps it small; policy-rc.d stops Debian from starting the services.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null 2>&1 \
  || echo "ensure-test-deps: apt-get install failed; tests that need these will skip" >&2
rm -f /usr/sbin/policy-rc.d
# The packages' own services are not wanted: tests start their own instances on random ports.
for s in prometheus prometheus-node-exporter prometheus-blackbox-exporter prometheus-alertmanager; do
  (command -v systemctl >/dev/null 2>&1 && systemctl stop "$s" >/dev/null 2>&1) || true
  pkill -x "$s" >/dev/null 2>&1 || true
done
exit 0
