#!/bin/sh
# CLI test of 'trk gen': help, usage errors, determinism across thread counts, both
# detectors, both output formats. Usage: gen.sh PATH/TO/trk
set -eu
trk=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$trk" gen --help | grep -q -- "--detector" || fail "gen --help lacks --detector"
for bad in "--detector lhcb -o $tmp/x" "--events 0 -o $tmp/x" "--pileup -3 -o $tmp/x" \
           "-d cms --format csv -o $tmp/x" "--bogus" ""; do
    rc=0
    # shellcheck disable=SC2086
    "$trk" gen $bad >"$tmp/out" 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "gen $bad: exit $rc, want 2"
    grep -q "trk gen\|usage" "$tmp/out" || fail "gen $bad: no message"
done

# The same seed gives the same bytes whatever the thread count.
"$trk" gen -d cms -p 10 -n 3 -s 7 -j 1 -q -o "$tmp/a.trkev" >/dev/null
"$trk" gen -d cms -p 10 -n 3 -s 7 -j 3 -q -o "$tmp/b.trkev" >/dev/null
cmp "$tmp/a.trkev" "$tmp/b.trkev" || fail "cms events differ between -j1 and -j3"
[ -n "$(ls "$tmp/a.trkev.conditions")" ] || fail "no CMS conditions written"
for f in "$tmp"/a.trkev.conditions/*; do
    cmp "$f" "$tmp/b.trkev.conditions/$(basename "$f")" || fail "conditions differ: $f"
done
"$trk" gen -d cms -p 10 -n 3 -s 8 -j 2 -q -o "$tmp/c.trkev" >/dev/null
if cmp -s "$tmp/a.trkev" "$tmp/c.trkev"; then fail "seeds 7 and 8 gave the same events"; fi

# TrackML: event file and CSV (plain and gzip).
"$trk" gen -d trackml -p 5 -n 2 -j 2 -q -o "$tmp/t.trkev" >/dev/null
"$trk" gen -d trackml -p 5 -n 2 -j 2 -q -f csv -o "$tmp/csv" >/dev/null
for f in hits cells particles truth; do
    [ -s "$tmp/csv/event000000000-$f.csv" ] || fail "missing $f.csv"
done
head -1 "$tmp/csv/event000000000-hits.csv" | grep -q "hit_id,x,y,z,volume_id,layer_id,module_id" ||
    fail "hits.csv header"
"$trk" gen -d trackml -p 5 -n 1 -q -f csv --gzip -o "$tmp/gz" >/dev/null
gzip -t "$tmp/gz/event000000000-hits.csv.gz" || fail "hits.csv.gz is not gzip"

# An unwritable output is an error with a message, not a crash.
rc=0; "$trk" gen -d cms -n 1 -q -o /nonexistent/dir/x.trkev >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "unwritable output: exit $rc, want 1"
echo "gen CLI: all checks passed"
