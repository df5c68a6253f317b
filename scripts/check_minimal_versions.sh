#!/usr/bin/env bash
# Proves the version floors declared under [dependencies] in Cargo.toml:
# resolves every direct dependency to the lowest version the manifest allows
# (nightly cargo's `-Zdirect-minimal-versions`; indirect dependencies resolve
# as usual), checks that each one landed exactly on the version Cargo.toml
# names (so a floor that other crates push up fails here instead of being
# claimed), then builds the library with every feature and with none.
#
# It works on a copy of the library: the manifest without its
# dev-dependencies, tests, benches and examples (a dev-dependency on a newer
# version of the same crate would otherwise unify with the library's and
# hide a floor that is too low), in a temporary directory. The checkout and
# its Cargo.lock are not touched; the build goes to target/minimal-versions.
#
# Usage: scripts/check_minimal_versions.sh
#   TOOLCHAIN=1.85 scripts/check_minimal_versions.sh   # build with that toolchain
# Needs a nightly toolchain for the resolution only.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
toolchain="${TOOLCHAIN:-stable}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

cp -R "$root/src" "$root/README.md" "$scratch/"
mkdir -p "$scratch/docs"
cp "$root/docs/guide.md" "$scratch/docs/"

# Every table of the manifest except the dev-dependencies and the test,
# bench and example targets.
awk '
    /^\[/ { skip = ($0 ~ /^\[\[(test|bench|example)\]\]/ || $0 ~ /dev-dependencies\]$/) }
    !skip { print }
' "$root/Cargo.toml" >"$scratch/Cargo.toml"

cd "$scratch"
cargo +nightly -Zdirect-minimal-versions generate-lockfile --quiet

# The floors as declared: `name version` for each [dependencies] entry, the
# requirement padded to three parts ("1.22" -> 1.22.0).
declared="$(awk '
    /^\[/ { in_deps = ($0 == "[dependencies]"); next }
    in_deps && /^[A-Za-z0-9_-]+ *=/ {
        name = $1
        if (match($0, /version *= *"[^"]*"/)) { v = substr($0, RSTART, RLENGTH); sub(/^version *= *"/, "", v) }
        else if (match($0, /= *"[^"]*"/)) { v = substr($0, RSTART, RLENGTH); sub(/^= *"/, "", v) }
        else next
        sub(/"$/, "", v); sub(/^[\^=]/, "", v)
        n = split(v, part, ".")
        for (i = n + 1; i <= 3; i++) v = v ".0"
        print name, v
    }
' Cargo.toml | sort)"
# The versions resolved: `name version` for each direct normal dependency.
resolved="$(cargo +nightly tree --edges normal --depth 1 --all-features --prefix none --quiet |
    sed -n '2,$p' | sed 's/ (\*)$//' | awk '{ sub(/^v/, "", $2); print $1, $2 }' | sort -u)"

echo "declared floor -> resolved:"
status=0
while read -r name version; do
    got="$(awk -v n="$name" '$1 == n { print $2 }' <<<"$resolved")"
    echo "  $name $version -> ${got:-(not resolved)}"
    if [ "$got" != "$version" ]; then status=1; fi
done <<<"$declared"
if [ "$status" -ne 0 ]; then
    echo "error: a dependency did not resolve to the floor Cargo.toml declares" >&2
    exit 1
fi

export CARGO_TARGET_DIR="$root/target/minimal-versions"
cargo "+$toolchain" build --locked --lib --all-features
cargo "+$toolchain" build --locked --lib --no-default-features --features spin
