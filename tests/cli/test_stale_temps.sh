# Temporary files of -o FILE: a writer's is ".FILE.PID.XXXXXX", named with
# its pid. Two cdt-augment writers of one out.cdt: the second, run to the
# end while the first is stuck mid-run, leaves the first's temp alone; once
# the first is killed with -9, its temp stays (nothing can clean up after
# kill -9) until the next writer of out.cdt removes it. Temps of other
# outputs are never touched.
set -u
cat=$BIN/cdt-cat
aug=$BIN/cdt-augment
for t in "$cat" "$aug"; do
    [ -x "$t" ] || { echo "$(basename "$t") missing"; exit 77; }
done
. "$TOP/tests/cli/npy.sh"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
temps() { ls -A | grep "^\.$1\." ; }

{ npy_header '|u1' '64, 1, 8, 8'; head -c 4096 /dev/zero; } >x.npy
"$cat" --from-npy x=x.npy --rows 16 --raw -o s.raw || { echo "FAIL: cdt-cat --from-npy"; exit 1; }
# the header, meta and first frame: what cdt-augment reads before it opens
# its output (the pixels are zeros, so FRAM is found at the frames only)
head_len=$(grep -obUa FRAM s.raw | sed -n 2p | cut -d: -f1)
[ -n "$head_len" ] || { echo "FAIL: no frame in s.raw"; exit 1; }

# Writer 1 reads the FIFO `in`, fed the first frame and then held open: it
# opens out.cdt's temp and waits for more.
mkfifo in
"$aug" --size 8 in -o out.cdt 2>err1 &
first=$!
exec 3>in
head -c "$head_len" s.raw >&3
i=0
while [ $i -lt 200 ] && [ -z "$(temps out.cdt)" ]; do
    sleep 0.05
    i=$((i + 1))
done
t1=$(temps out.cdt)
case $t1 in
.out.cdt.$first.??????) ;;
*) bad "writer 1 (pid $first): temps are '$t1', expected one .out.cdt.$first.XXXXXX" ;;
esac

# A temp of another output, whose owner is long gone, and one of out.cdt
# named the old way (no pid): neither is out.cdt's to remove.
: >.other.cdt.1.AbCdEf
: >.out.cdt.AbCdEf

# Writer 2 runs to the end while writer 1 lives.
"$aug" --size 8 s.raw -o out.cdt || bad "writer 2 failed"
[ -s out.cdt ] || bad "writer 2 left no out.cdt"
[ -e "$t1" ] || bad "writer 2 removed the live writer 1's temp $t1"
kill -0 $first 2>/dev/null || bad "writer 1 ended early: $(cat err1)"

# kill -9 writer 1: its temp stays, then writer 3 removes it.
kill -9 $first
wait $first 2>/dev/null
exec 3>&-
[ -e "$t1" ] || bad "the temp $t1 of the killed writer vanished by itself"
cp out.cdt before.cdt
"$aug" --size 8 s.raw -o out.cdt || bad "writer 3 failed"
[ ! -e "$t1" ] || bad "writer 3 left the dead writer's temp $t1"
left=$(ls -A | grep '^\.out\.cdt\.' | tr '\n' ' ')
[ "$left" = ".out.cdt.AbCdEf " ] || bad "temps of out.cdt left: '$left', expected only the pid-less one"
[ -e .other.cdt.1.AbCdEf ] || bad "writer 3 removed another output's temp"
"$cat" -c out.cdt >/dev/null || bad "out.cdt of writer 3 does not read back"

[ $fail -eq 0 ] || exit 1
echo "stale temps: the live writer's kept, the killed writer's ($t1) removed by the next writer"
