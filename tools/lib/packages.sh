# Sourced by tools/*: installs the system packages Dossier needs when they are missing.
# As root it uses apt; otherwise it says what to install and fails.

# Installs the Debian packages named that are missing (as root), or names them and fails.
install_missing() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "$(basename "$0"): installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "$(basename "$0"): missing packages: ${missing[*]} (run as root, or apt install them)" >&2
        exit 1
    fi
}

ensure_packages() {
    install_missing postgresql libpq-dev pkg-config
    command -v swift >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"
}

# What the browser suite and the API fuzzer need: chromium and its driver, a CJK font for the
# screenshots and curl (apt), selenium and schemathesis (PyPI).
ensure_web_test_tools() {
    install_missing chromium chromium-driver fonts-wqy-zenhei curl
    if ! python3 -c 'import selenium, schemathesis' 2>/dev/null; then
        echo "$(basename "$0"): installing selenium and schemathesis (pip)" >&2
        python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore selenium schemathesis >/dev/null \
            || { echo "$(basename "$0"): pip could not install selenium and schemathesis" >&2; exit 1; }
    fi
}
