#!/bin/sh
# Install gtoguard from this checkout.
#
#   ./install.sh                 install into .venv (editable: for trying it and developing)
#   ./install.sh --repo PATH     also install the hook into PATH (bare: pre-receive + guard, else pre-push)
#   ./install.sh --server [PATH...]  build a wheel of this checkout, install it (not editable)
#                                into its own venv, .venv-server, and install the pre-receive
#                                hook and its landing guard into each bare repository PATH
#   ./install.sh --demo          install, then run `gtoguard demo` (a declined and an accepted push)
#   ./install.sh --test          install with the test extra, build gtoguard's wheel into
#                                .venv-test and run the whole test suite against it
#
# With --server, a `git pull` in the checkout changes nothing the hooks run: run
# ./install.sh --server again to upgrade. GTOGUARD_SERVER_VENV=DIR puts that venv elsewhere;
# GTOGUARD_WHEEL=FILE installs that wheel instead of building one.
# Safe to run again: it reuses each venv and reinstalls gtoguard in place.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
python=${PYTHON:-python3}
mode=install
repo=
servers=

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --demo) mode=demo ;;
        --test) mode=test ;;
        --repo) [ $# -ge 2 ] || { echo "install.sh: --repo needs a path" >&2; exit 2; }
                repo=$2; shift ;;
        --server) shift; servers=yes; break ;;   # the remaining arguments are the paths
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

# The Debian packages some tests need: signing (ssh-keygen, gpg), a real HTTP server
# (nginx + fcgiwrap in front of git http-backend), gitolite behind a loopback sshd and a
# headless browser for the registry page (chromium driven through chromedriver).
# As root with apt-get they are installed; otherwise those tests are skipped and say
# this command (in CI, CI=true, a missing tool fails its test instead).
test_tools() {
    missing=
    for pair in ssh-keygen:openssh-client gpg:gnupg nginx:nginx-light fcgiwrap:fcgiwrap \
                gitolite:gitolite3 sshd:openssh-server chromium:chromium \
                chromedriver:chromium-driver; do
        PATH="$PATH:/usr/sbin:/sbin" command -v "${pair%%:*}" >/dev/null 2>&1 ||
            missing="$missing ${pair#*:}"
    done
    [ -n "$missing" ] || return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "install.sh: installing the test tools:$missing"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
    else
        echo "install.sh: the tests that need$missing will be skipped;" \
             "install them with: sudo apt-get install$missing" >&2
    fi
}

command -v git >/dev/null 2>&1 || { echo "install.sh: git is required" >&2; exit 3; }
command -v "$python" >/dev/null 2>&1 || { echo "install.sh: $python is required (3.10+)" >&2; exit 3; }

pip() { "$venv/bin/python" -m pip --disable-pip-version-check -q "$@"; }

# The server's gtoguard: a wheel built from this checkout (or GTOGUARD_WHEEL), installed
# into a venv of its own, so that the hooks run exactly what was installed.
if [ -n "$servers" ]; then
    [ -z "$repo" ] && [ "$mode" = install ] ||
        { echo "install.sh: --server is an install of its own: run it without --repo, --demo or --test" >&2; exit 2; }
    venv=${GTOGUARD_SERVER_VENV:-$here/.venv-server}
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    wheel=${GTOGUARD_WHEEL:-}
    if [ -z "$wheel" ]; then
        wheels=$(mktemp -d)
        trap 'rm -rf "$wheels"' EXIT
        pip wheel --no-deps -w "$wheels" "$here" || {
            echo "install.sh: could not build the wheel (pip needs setuptools from a package index);" \
                 "build it where one is reachable (pip wheel --no-deps PATH) and pass GTOGUARD_WHEEL=FILE" >&2
            exit 3; }
        wheel=$(ls "$wheels"/gtoguard-*.whl)
    fi
    [ -f "$wheel" ] || { echo "install.sh: no wheel at $wheel" >&2; exit 2; }
    pip install "$wheel"                                  # its dependencies, where missing
    pip install --no-deps --force-reinstall "$wheel"      # gtoguard itself, always replaced
    echo "gtoguard installed: $venv/bin/gtoguard ($("$venv/bin/gtoguard" --version), from $(basename "$wheel"))"
    failed=0
    for server in "$@"; do
        if [ "$(git -C "$server" rev-parse --is-bare-repository 2>/dev/null)" != true ]; then
            echo "install.sh: $server: not a bare repository; skipped" >&2
            failed=1
            continue
        fi
        "$venv/bin/gtoguard" install --repo "$server" --pre-receive || failed=1
    done
    [ "$failed" = 0 ] || { echo "install.sh: some repositories were not set up (see above)" >&2; exit 1; }
    [ $# -gt 0 ] || echo "no repository named: $venv/bin/gtoguard install --repo PATH --pre-receive (or --hooks-dir DIR) installs the hook"
    exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi

# pip runs again only when pyproject.toml changed since the last install (or the test
# extra is wanted and missing): the install is editable, so the code is always current
stamp="$venv/.gtoguard-installed"
want=$(cksum < "$here/pyproject.toml")
extra=plain; [ "$mode" = test ] && extra=test
have=$(cat "$stamp" 2>/dev/null || true)
if [ "$have" != "$want test" ] && [ "$have" != "$want $extra" ]; then
    if [ "$extra" = test ]; then
        pip install -e "$here[test]"
    else
        pip install -e "$here"
    fi
    echo "$want $extra" > "$stamp"
fi
echo "gtoguard installed: $venv/bin/gtoguard ($("$venv/bin/gtoguard" --version))"

if [ -n "$repo" ]; then
    "$venv/bin/gtoguard" install --repo "$repo"
fi

# The suite runs against gtoguard as users get it: a wheel built from this checkout,
# installed (not editable) into .venv-test, which finds the test dependencies in .venv.
test_env() {
    testenv="$here/.venv-test"
    [ -x "$testenv/bin/python" ] || "$python" -m venv --without-pip "$testenv"
    wheels=$(mktemp -d)
    trap 'rm -rf "$wheels"' EXIT
    pip wheel -q --no-deps --no-build-isolation -w "$wheels" "$here"
    site=$("$testenv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    "$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
        > "$site/gtoguard-test-dependencies.pth"
    pip --python "$testenv/bin/python" install -q --no-deps --no-index --force-reinstall \
        "$wheels"/gtoguard-*.whl
    echo "gtoguard under test: $testenv/bin/gtoguard (built wheel, not editable)"
}

case "$mode" in
    demo) exec "$venv/bin/gtoguard" demo ;;
    test) test_tools; test_env
          cd "$here" && GTOGUARD_SUITE=installed "$testenv/bin/python" -m pytest -q \
              -p no:cacheprovider -n "${GTOGUARD_TEST_WORKERS:-2}" --dist worksteal ;;
esac
