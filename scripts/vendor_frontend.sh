#!/usr/bin/env bash
# Refresh the front-end libraries vendored into static/vendor/ (STYLE, "The browser": no CDN).
#
#   scripts/vendor_frontend.sh
#
# Needs node and npm. Each package is fetched at a pinned version with `npm pack` (npm checks
# the tarball against the registry's integrity hash), unpacked in a temporary directory, and
# only the compiled, minified files the pages load are copied. To upgrade, change a version
# below, run the script, read the libraries' release notes, and check the pages still work.
#
# Deliberately not vendored:
# - govuk-frontend's fonts (GDS Transport) and images (the crown, crest, GOV.UK icons): outside
#   GOV.UK they must not be used. static/css/app.css sets a system font instead.
# - source maps. Their `sourceMappingURL` comments are removed too, because Django's manifest
#   static storage (production) refuses to collect a file that names a missing map.
set -euo pipefail

GOVUK_FRONTEND_VERSION="6.6.0"
HTMX_VERSION="2.0.11"
CHARTJS_VERSION="4.6.1"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# fetch NAME VERSION: unpack NAME@VERSION into $work/NAME and record the tarball's integrity.
declare -A integrity
fetch() {
    local name=$1 version=$2 tarball
    tarball="$(cd "$work" && npm pack --silent "$name@$version" | tail -n 1)"
    mkdir -p "$work/$name"
    tar -xzf "$work/$tarball" -C "$work/$name" --strip-components=1
    integrity[$name]="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w 0)"
    local got
    got="$(node -p "require('$work/$name/package.json').version")"
    if [[ "$got" != "$version" ]]; then
        echo "expected $name $version, npm gave $got" >&2
        exit 1
    fi
}

# copy SOURCE TARGET: copy one file, dropping any source-map comment.
copy() {
    mkdir -p "$(dirname "$2")"
    # The comment may end a line of code (govuk-frontend.min.js: `export{...};//# sourceMappingURL=`).
    sed -E -e 's@/\*# sourceMappingURL=[^*]*\*/@@' -e 's@//# sourceMappingURL=[^[:space:]]*$@@' "$1" >"$2"
    if grep -q 'sourceMappingURL' "$2"; then
        echo "a source-map comment is left in $2" >&2
        exit 1
    fi
}

fetch govuk-frontend "$GOVUK_FRONTEND_VERSION"
fetch htmx.org "$HTMX_VERSION"
fetch chart.js "$CHARTJS_VERSION"

rm -rf "$dest/govuk-frontend" "$dest/htmx" "$dest/chart.js"

govuk="$work/govuk-frontend/dist/govuk"
copy "$govuk/govuk-frontend.min.css" "$dest/govuk-frontend/govuk-frontend.min.css"
# GDS Transport is GOV.UK's alone, and its files are not vendored: drop its @font-face rules so no
# browser ever asks for them.
python3 - "$dest/govuk-frontend/govuk-frontend.min.css" <<'PY'
import re, sys
path = sys.argv[1]
css = open(path, encoding="utf-8").read()
open(path, "w", encoding="utf-8").write(re.sub(r"@font-face\{font-family:GDS Transport;[^}]*\}", "", css))
PY
# An ES module exporting initAll and the component classes; static/js/app.js imports it.
copy "$govuk/govuk-frontend.min.js" "$dest/govuk-frontend/govuk-frontend.min.js"

copy "$work/htmx.org/dist/htmx.min.js" "$dest/htmx/htmx.min.js"
cp "$work/htmx.org/LICENSE" "$dest/htmx/LICENSE"

copy "$work/chart.js/dist/chart.umd.min.js" "$dest/chart.js/chart.umd.min.js"
cp "$work/chart.js/LICENSE.md" "$dest/chart.js/LICENSE.md"

# Nothing from GOV.UK's branding may slip in with a future layout change.
if find "$dest" -iname '*.woff*' -o -iname '*crown*' -o -iname '*crest*' | grep -q .; then
    echo "GOV.UK font or crown files found under $dest" >&2
    exit 1
fi

size() { wc -c <"$dest/$1" | tr -d ' '; }

cat >"$dest/README.md" <<EOF
# Vendored front-end libraries

Written by \`scripts/vendor_frontend.sh\`; do not edit these files by hand. Change the pinned
version in the script and run it again. Pages load these files from \`/static/vendor/\`;
nothing is fetched from a CDN.

| package | version | licence | npm tarball integrity |
| --- | --- | --- | --- |
| govuk-frontend | $GOVUK_FRONTEND_VERSION | MIT | \`${integrity[govuk-frontend]}\` |
| htmx.org | $HTMX_VERSION | 0BSD | \`${integrity[htmx.org]}\` |
| chart.js | $CHARTJS_VERSION | MIT | \`${integrity[chart.js]}\` |

| file | bytes |
| --- | --- |
| govuk-frontend/govuk-frontend.min.css | $(size govuk-frontend/govuk-frontend.min.css) |
| govuk-frontend/govuk-frontend.min.js | $(size govuk-frontend/govuk-frontend.min.js) |
| htmx/htmx.min.js | $(size htmx/htmx.min.js) |
| chart.js/chart.umd.min.js | $(size chart.js/chart.umd.min.js) |

Each file is the package's own compiled, minified build, unchanged except that the
\`sourceMappingURL\` comment is removed (the maps are not vendored, and Django's manifest
static storage will not collect a file naming a missing map).

## What is left out, and why

- **GDS Transport and the crown.** govuk-frontend ships the GDS Transport font and GOV.UK's
  crown, crest and icons. Outside GOV.UK they must not be used, so none of them is copied.
  \`static/css/app.css\` replaces the font with the system sans-serif; \`templates/base.html\`
  uses the service's own name, "Safeguarding case record", in the header and has no crown in
  the footer. The compiled CSS still declares \`@font-face\` rules for GDS Transport, but no
  element uses that family, so browsers never request the (absent) font files.
- **GOV.UK images and \`manifest.json\`**: all GOV.UK-branded.
- **htmx 4.** htmx.org's \`latest\` tag is 4.x, which changes attribute inheritance and event
  names; the 2.x line is pinned until the pages are checked against 4.

## Using them

- govuk-frontend: \`templates/base.html\` links the CSS; \`static/js/app.js\` (a module script)
  imports \`initAll\` from the JS and adds the \`govuk-frontend-supported\` class to \`<body>\`.
  Write markup as the GOV.UK Design System shows for version $GOVUK_FRONTEND_VERSION
  (https://design-system.service.gov.uk/).
- htmx and Chart.js are classic scripts defining \`window.htmx\` and \`window.Chart\`: load them
  with \`<script src="{% static 'vendor/htmx/htmx.min.js' %}" defer></script>\` on the pages
  that need them. Under a strict CSP set \`htmx.config.allowEval = false\` and
  \`htmx.config.includeIndicatorStyles = false\` (from a static file, not an inline script).
EOF

echo "Vendored govuk-frontend $GOVUK_FRONTEND_VERSION, htmx.org $HTMX_VERSION, chart.js $CHARTJS_VERSION into $dest"
