#!/usr/bin/env bash
# Install the Debian packages cantor needs, when we can; otherwise say exactly what to run.
set -u
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "cantor: not a Debian/Ubuntu system; install these yourself: ${missing[*]}" >&2
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo"
else
  echo "cantor: run this once to get sound and the terminal tests:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || true
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null || {
  echo "cantor: apt-get failed; install these yourself: ${missing[*]}" >&2
}
exit 0
