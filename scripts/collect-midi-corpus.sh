#!/usr/bin/env bash
# Collect MIDI files that no one here wrote and run `cantor info` and `cantor check` over them
# (manual, not in CI). Debian packages that ship MIDI files are downloaded with `apt-get download`
# and unpacked with `dpkg -x` (nothing is installed); the sdists of PyPI packages whose test suites
# hold MIDI files are downloaded with pip. Everything goes to a folder outside the repository.
#
#   scripts/collect-midi-corpus.sh [DIR]        (default: ~/.cache/cantor-midi-corpus)
#
# Prints one line per file (outcome, seconds, path) to DIR/results.tsv and an outcome table:
# info ok / refused (one `cantor: error:` line) / traceback / over time, and the same for check.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$HOME/.cache/cantor-midi-corpus}"
python="${PYTHON:-$root/.venv/bin/python}"
limit="${CANTOR_CORPUS_SECONDS:-30}"
mkdir -p "$dir/deb" "$dir/pypi" "$dir/files"

# Debian packages known to ship .mid/.midi/.kar files (games' music, teaching tools, examples).
debs=(
  simutrans-pak64 songwrite solfege pysycache freedoom frozen-bubble-data
  lilypond-doc-html abcmidi timgm6mb-soundfont fluidsynth python3-mido
  supertux-data lincity-ng-data tuxguitar denemo-data minuet-data
  gnome-mahjongg xmoto-data pingus-data wesnoth-1.16-music
)
# PyPI projects whose sdists carry MIDI test files.
sdists=(mido pretty_midi miditoolkit music21 miditok symusic partitura muspy)

cd "$dir/deb"
for name in "${debs[@]}"; do
  if ls "$name"_*.deb >/dev/null 2>&1 || apt-get download "$name" >/dev/null 2>&1; then
    for deb in "$name"_*.deb; do
      mkdir -p "x/$name" && dpkg -x "$deb" "x/$name"
    done
  else
    echo "skipped $name (not in this machine's apt sources)" >&2
  fi
done

cd "$dir/pypi"
# The sdist file itself, by PyPI's JSON API: `pip download --no-binary` would build the package's
# build requirements (CMake from source, for one of them) just to read its metadata.
"$python" - "${sdists[@]}" <<'PY'
import json
import os
import sys
import urllib.request

for name in sys.argv[1:]:
    try:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=60) as answer:
            files = json.load(answer)["urls"]
        url = next(f["url"] for f in files if f["packagetype"] == "sdist")
        target = url.rsplit("/", 1)[1]
        if not os.path.exists(target):
            urllib.request.urlretrieve(url, target)
    except (OSError, StopIteration, ValueError, KeyError) as exc:
        print(f"skipped {name} ({type(exc).__name__}: {exc})", file=sys.stderr)
PY
for archive in *.tar.gz *.zip; do
  [ -e "$archive" ] || continue
  mkdir -p "x/$archive"
  case "$archive" in
    *.zip) "$python" -m zipfile -e "$archive" "x/$archive" ;;
    *) tar -xzf "$archive" -C "x/$archive" ;;
  esac
done

# One flat copy per file, named by source, so a result line says where the file came from.
find "$dir/deb/x" "$dir/pypi/x" -type f \( -iname '*.mid' -o -iname '*.midi' -o -iname '*.kar' \) \
  -print0 | while IFS= read -r -d '' file; do
    rel="${file#"$dir"/}"
    cp -f "$file" "$dir/files/$(printf '%s' "$rel" | tr '/ ' '__')"
  done

outcome() {  # outcome of `cantor $1 FILE`: ok, refused, traceback, over-time
  local status out
  out="$(cd "$root" && timeout "$limit" "$python" -m cli "$1" "$2" 2>&1 >/dev/null)" && status=0 || status=$?
  if [ "$status" = 0 ]; then echo ok
  elif [ "$status" = 124 ]; then echo over-time
  elif printf '%s' "$out" | grep -q 'Traceback'; then echo traceback
  elif [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && printf '%s' "$out" | grep -q '^cantor: error: '; then echo refused
  else echo other
  fi
}

results="$dir/results.tsv"
: > "$results"
for file in "$dir"/files/*; do
  [ -e "$file" ] || continue
  start=$EPOCHREALTIME
  info=$(outcome info "$file")
  check=$(outcome check "$file")
  seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  printf '%s\t%s\t%s\t%s\n' "$info" "$check" "$seconds" "$(basename "$file")" >> "$results"
done

echo "files: $(wc -l < "$results") (from $(ls "$dir/deb/x" 2>/dev/null | wc -l) Debian packages," \
     "$(ls "$dir/pypi/x" 2>/dev/null | wc -l) sdists)"
echo "info outcomes:";  cut -f1 "$results" | sort | uniq -c | sort -rn
echo "check outcomes:"; cut -f2 "$results" | sort | uniq -c | sort -rn
echo "slowest:"; sort -t$'\t' -k3 -rn "$results" | head -3 | cut -f3,4
