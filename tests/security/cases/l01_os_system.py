# L1: a shell from Python sees the box: the box's uid, the box's processes
# only (no root process: box init is hidden), no /etc/shadow.
import os
import sys

sys.stdout.flush()
os.system("id")
os.system("cat /etc/shadow")
os.system("ps -e -o user=,comm= | sort | uniq -c | awk '{print $2}' | sort -u")
