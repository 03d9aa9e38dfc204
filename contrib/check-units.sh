#!/bin/sh
# Checks the systemd units in contrib/systemd with `systemd-analyze verify`, prints each
# unit's exposure score from `systemd-analyze security --offline`, and dry-runs the
# sysusers file.
#
# The units start /usr/local/bin/<daemon>, which need not exist on the checking machine,
# so each unit is verified from a temporary copy whose ExecStart points at a stand-in
# executable. Exits non-zero if any unit has a problem (or systemd-analyze is missing).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
units="nsqd nsqlookupd nsqadmin"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "check-units: systemd-analyze not found (install the systemd package)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/units"

status=0
for u in $units; do
    printf '#!/bin/sh\nexit 0\n' > "$tmp/bin/$u"
    chmod +x "$tmp/bin/$u"
    sed "s|/usr/local/bin/$u|$tmp/bin/$u|" "$here/systemd/$u.service" > "$tmp/units/$u.service"
done

for u in $units; do
    out=$(systemd-analyze verify --man=no "$tmp/units/$u.service" 2>&1) || status=1
    # verify exits 0 for some warnings; treat any line about our unit as a failure.
    if printf '%s\n' "$out" | grep -q "$u.service"; then
        status=1
    fi
    if [ -n "$out" ]; then
        printf '%s\n' "$out" | sed "s|$tmp/units/||g; s|$tmp/bin/|/usr/local/bin/|g" >&2
        echo "check-units: $u.service: FAILED" >&2
    else
        echo "check-units: $u.service: ok"
    fi
    if score=$(systemd-analyze security --offline=yes "$tmp/units/$u.service" 2>/dev/null | tail -n 1); then
        echo "check-units: $u.service: ${score#→ }"
    fi
done

# The sysusers file, applied to an empty root.
if command -v systemd-sysusers >/dev/null 2>&1; then
    mkdir -p "$tmp/root/etc"
    if systemd-sysusers --root="$tmp/root" --dry-run "$here/systemd/nsq.sysusers.conf" >/dev/null 2>&1; then
        echo "check-units: nsq.sysusers.conf: ok"
    else
        echo "check-units: nsq.sysusers.conf: FAILED" >&2
        status=1
    fi
fi
exit $status
