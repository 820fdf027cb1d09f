# Sourced by tools/*: installs the system packages Dossier needs when they are missing.
# As root it uses apt; otherwise it says what to install and fails.
ensure_packages() {
    local missing=()
    for pkg in postgresql libpq-dev pkg-config; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ]; then
            echo "$(basename "$0"): installing ${missing[*]}" >&2
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        else
            echo "$(basename "$0"): missing packages: ${missing[*]} (run as root, or apt install them)" >&2
            exit 1
        fi
    fi
    command -v swift >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"
}
