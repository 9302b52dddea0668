# apt-install.sh — sourced by the install-*.sh scripts: `apt_install SCRIPT
# HINT PACKAGE...` installs Debian packages quietly, waiting for another
# apt-get's lock, as root directly or else through sudo. Without apt-get (or
# without root and sudo) it prints SCRIPT's name and HINT and exits 1.

apt_install() {
    script=$1 hint=$2
    shift 2
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$script: apt-get not found; $hint" >&2
        exit 1
    fi
    if [ "$(id -u)" -eq 0 ]; then
        as_root=
    elif command -v sudo >/dev/null 2>&1; then
        as_root=sudo
    else
        echo "$script: not root and sudo is not available to install $*" >&2
        exit 1
    fi
    wait_lock="-o DPkg::Lock::Timeout=600"
    # shellcheck disable=SC2086 # word splitting of the options is intended
    $as_root apt-get -qq $wait_lock update
    # shellcheck disable=SC2086
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq $wait_lock install -y --no-install-recommends "$@" >/dev/null
    echo "$script: installed $*"
}
