# Sourced by package-deb.sh, package-tarball.sh and package-image.sh: the executable they package, and what goes
# beside it.
#   --arch x64|arm64, or ARCH=x64|arm64 (default x64). arm64 is built on x64 too (docs/packaging.md#arm64).
#   RECONFIG_EXECUTABLE=<file>  package this executable (with its THIRD-PARTY beside it) instead of building one;
#                               it must be built for that arch
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
arch=${ARCH:-x64}

# The deb and tarball scripts' command line: [--arch x64|arm64] [outdir]. Sets arch and outdir (default: here).
package_args() {
  outdir=.
  while [ $# -gt 0 ]; do
    case "$1" in
      --arch) [ $# -ge 2 ] || { echo "--arch needs x64 or arm64" >&2; exit 2; }; arch=$2; shift 2 ;;
      --arch=*) arch=${1#--arch=}; shift ;;
      -*) echo "unknown option $1; usage: $(basename "$0") [--arch x64|arm64] [outdir]" >&2; exit 2 ;;
      *) outdir=$1; shift ;;
    esac
  done
  outdir=$(cd "$outdir" && pwd)
  set_arch
}

# debarch: Debian's name for arch; elf_machine: the ELF header's e_machine an executable for it has.
set_arch() {
  case "$arch" in
    x64) debarch=amd64; elf_machine=62 ;;      # EM_X86_64
    arm64) debarch=arm64; elf_machine=183 ;;   # EM_AARCH64
    *) echo "the arch must be x64 or arm64, not $arch" >&2; exit 2 ;;
  esac
}
set_arch
version=$(node -p "require('$root/package.json').version")

# The single executable: built now (npm run package:bin) unless RECONFIG_EXECUTABLE names one already built.
# arm64 is built into dist/bin/linux-arm64/, so that the x64 executable's THIRD-PARTY in dist/bin/ stays its own.
executable() {
  local exe
  if [ -n "${RECONFIG_EXECUTABLE:-}" ]; then
    exe=$RECONFIG_EXECUTABLE
    [ -x "$exe" ] || { echo "RECONFIG_EXECUTABLE=$exe is not an executable file" >&2; return 1; }
    [ -f "$(dirname "$exe")/THIRD-PARTY" ] || { echo "no THIRD-PARTY beside $exe" >&2; return 1; }
  else
    local out=()
    [ "$arch" = x64 ] || out=(--output "$root/dist/bin/linux-$arch/reconfig-$version-linux-$arch")
    exe=$(cd "$root" && npm run --silent build >&2 && node dist/scripts/bin/package-bin.js --arch "$arch" "${out[@]}" | tail -1)
  fi
  # A package labelled arm64 around an x64 program (or the reverse) would install and then fail to start.
  local machine
  machine=$(od -An -tu2 -j18 -N2 "$exe" | tr -d ' ')
  [ "$machine" = "$elf_machine" ] || {
    echo "$exe is not a linux-$arch executable (its ELF e_machine is $machine, not $elf_machine)" >&2; return 1; }
  echo "$exe"
}

# The examples as both packages lay them out: <dir>/conf.d/*.json, <dir>/templates/*.ejs, <dir>/plugins/*.js.
copy_examples() {
  mkdir -p "$1"
  cp -r "$root/conf.d" "$root/templates" "$root/plugins" "$1/"
}
