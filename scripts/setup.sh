#!/usr/bin/env bash
# Sets up LeNet Lab: Debian packages (Fashion-MNIST, and Chromium for the browser tests with --dev),
# a virtual environment in .venv, and the Python requirements. Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

apt_packages=()
[ -d /usr/share/datasets/fashion-mnist ] || apt_packages+=(dataset-fashion-mnist)
[ "$dev" = 1 ] && ! command -v chromium >/dev/null && apt_packages+=(chromium)
if [ ${#apt_packages[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
    echo "setup: installing ${apt_packages[*]} with apt-get"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_packages[@]}" >/dev/null \
      || echo "setup: could not install ${apt_packages[*]}; see README (data is then downloaded by torchvision if online)"
  else
    echo "setup: no apt-get here; Fashion-MNIST will be looked for in data/ or downloaded by torchvision"
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
requirements=requirements-app.txt
[ "$dev" = 1 ] && requirements=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements*.txt | sha1sum | cut -c1-12)-$dev"
if [ ! -f "$stamp" ]; then
  echo "setup: installing $requirements into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r "$requirements" 2> >(grep -v "is ignored: it is neither" >&2)
  touch "$stamp"
fi
