#!/usr/bin/env bash
# System tools openrft uses: bubblewrap isolates python graders and file Lambdas.
# Without root (or apt) we say what is missing and carry on: the sandbox then falls back
# to rlimits + namespaces via unshare where possible (see README "Sandbox").
set -u
if command -v bwrap >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
else
  echo "warning: bubblewrap (bwrap) is not installed; install it for full grader isolation" >&2
fi
exit 0
