# Sourced by package-deb.sh and package-tarball.sh: the executable they package, and what goes beside it.
#   ARCH=x64|arm64 (default x64)
#   RECONFIG_EXECUTABLE=<file>  package this executable (with its THIRD-PARTY beside it) instead of building one
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
arch=${ARCH:-x64}
case "$arch" in
  x64) debarch=amd64 ;;
  arm64) debarch=arm64 ;;
  *) echo "ARCH must be x64 or arm64, not $arch" >&2; exit 2 ;;
esac
version=$(node -p "require('$root/package.json').version")

# The single executable: built now (npm run package:bin) unless RECONFIG_EXECUTABLE names one already built.
executable() {
  if [ -n "${RECONFIG_EXECUTABLE:-}" ]; then
    [ -x "$RECONFIG_EXECUTABLE" ] || { echo "RECONFIG_EXECUTABLE=$RECONFIG_EXECUTABLE is not an executable file" >&2; return 1; }
    [ -f "$(dirname "$RECONFIG_EXECUTABLE")/THIRD-PARTY" ] || { echo "no THIRD-PARTY beside $RECONFIG_EXECUTABLE" >&2; return 1; }
    echo "$RECONFIG_EXECUTABLE"
    return
  fi
  (cd "$root" && npm run --silent build >&2 && node dist/scripts/bin/package-bin.js --arch "$arch" | tail -1)
}

# The examples as both packages lay them out: <dir>/conf.d/*.json, <dir>/templates/*.ejs, <dir>/plugins/*.js.
copy_examples() {
  mkdir -p "$1"
  cp -r "$root/conf.d" "$root/templates" "$root/plugins" "$1/"
}
