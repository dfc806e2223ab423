# Shared by scripts/demo and scripts/test: installs missing Debian packages
# and builds one CMake configuration. Source it; do not run it.

JKD_PACKAGES=(
  cmake gcc make pkg-config gettext curl procps iproute2
  liblmdb-dev libuv1-dev libnanomsg-dev libmsgpack-dev libsodium-dev
  libhttp-parser-dev libjansson-dev libinih-dev libcmocka-dev
)

# Installs the packages of JKD_PACKAGES (and any given as arguments) that are missing.
jkd_install_missing() {
  local missing=() pkg
  for pkg in "${JKD_PACKAGES[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
      missing+=("$pkg")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  echo "Installing missing packages: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-upgrade "${missing[@]}"
}

# Configures and builds: jkd_build DIR BUILD_TYPE
jkd_build() {
  local dir=$1 type=$2
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}
