#!/usr/bin/env bash
# Renders a report that `dossier export --report` wrote, as a person would see and print it, with
# headless Chromium: a screenshot of the page (A4 width at 150 dpi) and the printed PDF, with its
# pages as PNG when pdftoppm (Debian: poppler-utils) is there. Nothing is committed: the files go
# under .build/screenshots (or OUT).
#
#   tools/web/report_screenshot.sh REPORT.html [OUT]
#
# Chinese text needs a CJK font: `fc-list :lang=zh` must list one (Debian: fonts-noto-cjk or
# fonts-wqy-zenhei); without one Chromium draws boxes.
set -euo pipefail
report=${1:?usage: tools/web/report_screenshot.sh REPORT.html [OUT]}
out=${2:-"$(cd "$(dirname "$0")/../.." && pwd)/.build/screenshots"}
mkdir -p "$out"
name=$(basename "$report" .html)
url="file://$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
if [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    echo "warning: no Chinese font installed (fc-list :lang=zh is empty): apt-get install fonts-noto-cjk" >&2
fi
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
flags=(--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --lang=zh-CN)
"$browser" "${flags[@]}" --window-size=1240,1754 --screenshot="$out/$name.png" "$url" 2>/dev/null
"$browser" "${flags[@]}" --no-pdf-header-footer --print-to-pdf="$out/$name.pdf" "$url" 2>/dev/null
echo "$out/$name.png"
echo "$out/$name.pdf"
if command -v pdftoppm >/dev/null; then
    pdftoppm -r 80 -png "$out/$name.pdf" "$out/$name-page"
    ls "$out/$name"-page*.png
fi
