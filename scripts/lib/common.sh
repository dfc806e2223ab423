# Shared by scripts/demo and scripts/test: installs missing Debian packages
# and builds one CMake configuration. Source it; do not run it.

JKD_PACKAGES=(
  cmake gcc make pkg-config gettext curl procps iproute2
  liblmdb-dev libuv1-dev libnanomsg-dev libmsgpack-dev libsodium-dev
  libhttp-parser-dev libjansson-dev libinih-dev libcmocka-dev
)

# Packages only the tests need: the browser tests (tests/web) drive Debian's
# chromium through playwright-core, whose npm package installs no browser of
# its own, and test_load_balancer puts HAProxy in front of a cluster.
JKD_TEST_PACKAGES=(chromium haproxy)

# Debian 12's nodejs (18.20) is older than playwright-core needs (node 20 or
# later), so Debian's packages are only a fallback for a machine without node.
# NOTE: with that fallback npm ci warns about the engine and playwright-core
# may fail to start; install node 20 or later on such a machine.
jkd_node_packages() {
  if ! command -v node >/dev/null 2>&1; then
    echo nodejs
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo npm
  fi
}

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

# Installs tests/web's npm packages exactly as package-lock.json lists them,
# when node_modules is missing or was installed from another lock file. The
# lock file's digest is kept in node_modules to compare with. npm ci removes
# node_modules first, so no stale package survives.
jkd_web_test_deps() {
  local dir=tests/web
  local stamp=$dir/node_modules/.jkd-lock-sha256
  local digest
  digest=$(sha256sum <"$dir/package-lock.json")
  if [[ -f $stamp && $(<"$stamp") == "$digest" ]]; then
    return 0
  fi
  echo "Installing the browser tests' npm packages (npm ci in $dir)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$digest" >"$stamp"
}
