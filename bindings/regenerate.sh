#!/bin/sh
# Regenerates the Panama bindings of native/include/mla4j.h into bindings/src/main/java (org.mla4j.bindings).
# Needs jextract: $JEXTRACT, or `jextract` on PATH. CI and normal builds never run this: the output is committed.
#
# Only the symbols declared in mla4j.h itself are generated (not those of stddef.h/stdint.h): the include
# list is rebuilt on every run from jextract's --dump-includes, keeping the entries whose header is mla4j.h,
# so adding a function to the header needs nothing but running this script again.
#
# No --library is passed on purpose: the generated code then looks symbols up with SymbolLookup.loaderLookup(),
# which finds libmla4j.so once org.mla4j.NativeLibrary has System.load()ed it (from the jar or an override path).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HEADER="$ROOT/native/include/mla4j.h"
OUT="$ROOT/bindings/src/main/java"
PACKAGE=org.mla4j.bindings
JEXTRACT=${JEXTRACT:-jextract}

if ! command -v "$JEXTRACT" >/dev/null 2>&1; then
    echo "regenerate.sh: jextract not found (set JEXTRACT=/path/to/jextract or put it on PATH)" >&2
    exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# 1. Every declaration jextract sees, one "--include-<kind> <name>  # header: <file>" line each.
"$JEXTRACT" --dump-includes "$TMP/all.txt" "$HEADER" >/dev/null
# 2. Keep ours: the lines whose header is mla4j.h.
awk -v h="$HEADER" '$1 ~ /^--include-/ && $NF == h { print $1; print $2 }' "$TMP/all.txt" > "$TMP/includes.txt"
if [ ! -s "$TMP/includes.txt" ]; then
    echo "regenerate.sh: no symbols of $HEADER in jextract's --dump-includes output" >&2
    exit 1
fi

# 3. Generate into a clean package directory, so symbols removed from the header disappear.
rm -rf "$OUT/$(echo "$PACKAGE" | tr . /)"
"$JEXTRACT" --output "$OUT" --target-package "$PACKAGE" --header-class-name Mla4jNative \
    @"$TMP/includes.txt" "$HEADER"

# 4. Stay on JDK 22: jextract's SymbolLookup.findOrThrow (JDK 23+) becomes find(...).orElseThrow(), which
#    throws the same NoSuchElementException for a missing symbol and is the only JDK 23 API it emits.
find "$OUT/$(echo "$PACKAGE" | tr . /)" -name '*.java' -exec sed -i 's/SYMBOL_LOOKUP\.findOrThrow(\("[^"]*"\))/SYMBOL_LOOKUP.find(\1).orElseThrow()/' {} +

# 5. Record which jextract produced the sources.
VERSION=$("$JEXTRACT" --version 2>&1)
printf '%s\n' "$VERSION" > "$ROOT/bindings/JEXTRACT_VERSION"
echo "regenerate.sh: bindings written to $OUT/$(echo "$PACKAGE" | tr . /)"
