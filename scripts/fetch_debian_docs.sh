#!/usr/bin/env bash
# Fetch the Debian documentation packages whose PDFs are our training corpus, and unpack them.
#
#   scripts/fetch_debian_docs.sh [DEST] [EXTRA_PACKAGE ...]
#
# DEST defaults to data/debian-docs (gitignored). Every package is unpacked with `dpkg -x` into
# DEST itself, as dpkg would install it (DEST/usr/share/doc/...), so document ids, and with them
# the train/dev split of scripts/build_training_data.py, do not depend on where DEST is. The .deb
# files are kept in DEST/.debs (or in $DEB_DIR when set, to reuse an existing download); a marker
# in DEST/.unpacked/ records what was unpacked. Running it again downloads and unpacks only what
# is missing (a newer .deb is unpacked over the old files). No root is needed: `apt-get download` fetches into
# the current folder; `apt-get update` is run only if a download fails (that step needs root).
#
# The default set (about 100 MB of .deb, 305 PDFs, 12.9k pages) is the corpus of our shipped
# text model. Varied extras that keep the total under 300 MB: texlive-science-doc (84 MB),
# texlive-metapost-doc (36 MB), texlive-fonts-recommended-doc (3 MB).
set -euo pipefail

DEST="${1:-data/debian-docs}"
shift || true
PACKAGES=(octave-doc gnuplot-doc c++-annotations-pdf texlive-latex-recommended-doc texlive-humanities-doc "$@")
DEB_DIR="${DEB_DIR:-$DEST/.debs}"

for tool in apt-get dpkg; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found; this script needs a Debian or Ubuntu system" >&2; exit 1; }
done
mkdir -p "$DEST" "$DEB_DIR"
DEB_DIR="$(cd "$DEB_DIR" && pwd)"

deb_of() { compgen -G "$DEB_DIR/$1_*.deb" | sort | tail -n 1 || true; }

updated=0
for package in "${PACKAGES[@]}"; do
    deb="$(deb_of "$package")"
    if [[ -z "$deb" ]]; then
        echo "downloading $package"
        if ! (cd "$DEB_DIR" && apt-get download "$package"); then
            if [[ $updated -eq 0 ]]; then
                echo "download failed; refreshing the package lists with apt-get update" >&2
                if [[ $(id -u) -eq 0 ]]; then apt-get update -qq; else sudo -n apt-get update -qq; fi || {
                    echo "error: apt-get update failed; run 'sudo apt-get update' and try again" >&2; exit 1; }
                updated=1
            fi
            (cd "$DEB_DIR" && apt-get download "$package") || {
                echo "error: cannot download $package (is it in your apt sources? check 'apt-cache policy $package')" >&2
                exit 1; }
        fi
        deb="$(deb_of "$package")"
    fi
    marker="$DEST/.unpacked/$package"
    if [[ -f "$marker" && "$(cat "$marker")" == "$(basename "$deb")" ]]; then
        echo "$package: already unpacked"
        continue
    fi
    dpkg -x "$deb" "$DEST"
    mkdir -p "$DEST/.unpacked"
    basename "$deb" > "$marker"
    echo "$package: unpacked $(dpkg -c "$deb" | grep -ci '\.pdf$' || true) PDFs"
done
echo "$(find "$DEST" -iname '*.pdf' | wc -l) PDFs under $DEST"
