#!/usr/bin/env bash
# System tools openrft uses: bubblewrap isolates python graders and file Lambdas; Chromium runs
# the dashboard's browser tests (Playwright drives Debian's build: no browser download).
# Without root (or apt) we say what is missing and carry on: the sandbox then falls back
# to rlimits + namespaces via unshare where possible (see README "Sandbox").
set -u
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "warning: not installed: ${missing[*]} (bubblewrap: full grader isolation; chromium: dashboard browser tests)" >&2
fi
exit 0
